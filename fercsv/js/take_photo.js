// Show the webcam with a Capture button; resolve to a JPEG data URL of the captured frame,
// or to 'error:<name>' (camera denied or missing) after removing everything it added.
// Evaluated through google.colab.output.eval_js; the last expression is the returned promise.
function fercsvFitFrame() {
  // Colab sizes the output frame once; grow it to show the whole widget.
  const out = window.google && google.colab && google.colab.output;
  if (out && out.setIframeHeight) out.setIframeHeight(document.documentElement.scrollHeight, true);
}

async function fercsvTakePhoto(quality) {
  const box = document.createElement('div');
  box.id = 'fercsv-photo';
  const video = document.createElement('video');
  video.style.display = 'block';
  video.setAttribute('playsinline', '');
  video.muted = true;
  const button = document.createElement('button');
  button.textContent = 'Capture';
  box.appendChild(video);
  box.appendChild(button);
  document.body.appendChild(box);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
    video.srcObject = stream;
    await video.play();
  } catch (err) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    box.remove();
    return 'error:' + (err && err.name ? err.name : String(err));
  }
  fercsvFitFrame();
  await new Promise((resolve) => button.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getTracks().forEach((t) => t.stop());
  box.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
