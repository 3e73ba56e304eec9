// Show the webcam with a Capture button; resolve to a JPEG data URL of the captured frame.
// Evaluated through google.colab.output.eval_js; the last expression is the returned promise.
async function fercsvTakePhoto(quality) {
  const box = document.createElement('div');
  box.id = 'fercsv-photo';
  const button = document.createElement('button');
  button.textContent = 'Capture';
  const video = document.createElement('video');
  video.style.display = 'block';
  video.setAttribute('playsinline', '');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
  } catch (err) {
    return 'error:' + (err && err.name ? err.name : String(err));
  }
  document.body.appendChild(box);
  box.appendChild(video);
  box.appendChild(button);
  video.srcObject = stream;
  await video.play();
  await new Promise((resolve) => button.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks().forEach((t) => t.stop());
  box.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
