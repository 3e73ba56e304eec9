// Show the webcam with a Capture button; resolve to a JPEG data URL of the captured frame,
// or to 'error:<name>' (camera denied or missing) after removing everything it added.
// Evaluated through google.colab.output.eval_js; the last expression is the returned promise.
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
  const stream = await fercsvOpenCamera(video, box, {video: true});
  if (typeof stream === 'string') return stream;
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
