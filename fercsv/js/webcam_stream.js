// Live webcam loop for Colab: the video with a transparent overlay image exactly on top of it,
// and below them a status line and a Stop button. fercsvStreamFrame(overlay, text) shows the last
// overlay PNG and resolves to the next frame as a JPEG data URL, or '' once the user clicked
// Stop (or the video). Functions live on window so later eval_js calls find them.
window.fercsvStream = window.fercsvStream || null;

window.fercsvStartStream = async function () {
  if (window.fercsvStream) return 'ok';
  const div = document.createElement('div');
  div.id = 'fercsv-stream';
  div.style.display = 'inline-block';
  // The frame holds only the video and the overlay, so 100% of it is the video's box.
  const frame = document.createElement('div');
  frame.style.position = 'relative';
  frame.style.lineHeight = '0';
  const video = document.createElement('video');
  video.setAttribute('playsinline', '');
  video.muted = true;
  video.style.display = 'block';
  const overlay = document.createElement('img');
  overlay.style.position = 'absolute';
  overlay.style.left = '0';
  overlay.style.top = '0';
  overlay.style.width = '100%';
  overlay.style.height = '100%';
  overlay.style.pointerEvents = 'none';
  const bar = document.createElement('div');
  const stop = document.createElement('button');
  stop.textContent = 'Stop';
  const label = document.createElement('span');
  label.textContent = ' starting the camera...';
  frame.appendChild(video);
  frame.appendChild(overlay);
  bar.appendChild(stop);
  bar.appendChild(label);
  div.appendChild(frame);
  div.appendChild(bar);
  document.body.appendChild(div);
  const stream = await fercsvOpenCamera(video, div, {video: {facingMode: 'user'}});
  if (typeof stream === 'string') return stream;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const state = {div, video, overlay, label, stream, canvas, stopped: false};
  window.fercsvStream = state;
  const end = () => { state.stopped = true; label.textContent = ' stopping...'; };
  video.onclick = end;
  stop.onclick = end;
  label.textContent = ' Stop (or click the video) to end.';
  fercsvFitFrame();
  return 'ok';
};

window.fercsvStreamFrame = async function (overlayUrl, text) {
  const s = window.fercsvStream;
  if (!s) return '';
  if (overlayUrl) s.overlay.src = overlayUrl;
  if (text) s.label.textContent = ' ' + text;
  if (s.stopped) {
    await window.fercsvStopStream();
    return '';
  }
  s.canvas.getContext('2d').drawImage(s.video, 0, 0);
  return s.canvas.toDataURL('image/jpeg', 0.8);
};

window.fercsvStopStream = async function () {
  const s = window.fercsvStream;
  if (s) {
    s.stream.getTracks().forEach((t) => t.stop());
    s.div.remove();
    window.fercsvStream = null;
  }
  return true;
};
