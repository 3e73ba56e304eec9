// Live webcam loop for Colab: a video element with a transparent overlay image on top.
// fercsvStreamFrame(overlay, label) shows the last overlay PNG and resolves to the next frame
// as a JPEG data URL, or '' once the user clicked the video to stop.
// Functions are attached to window so later eval_js calls find them whatever scope eval used.
window.fercsvStream = window.fercsvStream || null;

window.fercsvStartStream = async function () {
  if (window.fercsvStream) return window.fercsvStream;
  const div = document.createElement('div');
  div.id = 'fercsv-stream';
  div.style.position = 'relative';
  div.style.display = 'inline-block';
  const video = document.createElement('video');
  video.setAttribute('playsinline', '');
  video.style.display = 'block';
  const overlay = document.createElement('img');
  overlay.style.position = 'absolute';
  overlay.style.left = '0';
  overlay.style.top = '0';
  overlay.style.width = '100%';
  overlay.style.height = '100%';
  overlay.style.pointerEvents = 'none';
  const label = document.createElement('div');
  label.textContent = 'Click the video to stop.';
  document.body.appendChild(div);
  div.appendChild(video);
  div.appendChild(overlay);
  div.appendChild(label);
  const stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'user'}});
  video.srcObject = stream;
  await video.play();
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const state = {div, video, overlay, label, stream, canvas, stopped: false};
  window.fercsvStream = state;
  video.onclick = () => { state.stopped = true; };
  return state;
};

window.fercsvStreamFrame = async function (overlayUrl, text) {
  const s = await window.fercsvStartStream();
  if (overlayUrl) s.overlay.src = overlayUrl;
  if (text) s.label.textContent = text;
  if (s.stopped) {
    s.stream.getVideoTracks().forEach((t) => t.stop());
    s.div.remove();
    window.fercsvStream = null;
    return '';
  }
  s.canvas.getContext('2d').drawImage(s.video, 0, 0);
  return s.canvas.toDataURL('image/jpeg', 0.8);
};

window.fercsvStopStream = async function () {
  const s = window.fercsvStream;
  if (s) {
    s.stream.getVideoTracks().forEach((t) => t.stop());
    s.div.remove();
    window.fercsvStream = null;
  }
  return true;
};
