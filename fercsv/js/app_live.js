// fercsv app, Live webcam tab (the js_on_load of its gr.HTML; Gradio gives `element`, `props`, `server`).
// The camera plays in a <video> at its own rate; one small JPEG frame at a time goes to the server
// (server.live_faces), and the boxes and labels it returns are drawn on a canvas over the video.
// Only one frame is in flight: the next is taken when the answer arrives, so what is drawn is fresh.
// The canvas is an image whose accessible name says what is drawn on it ("happy 92%", "no face found",
// "camera off"), for screen readers and for tests that look for the label the way a person does.
const root = element.querySelector(".fercsv-live");  // carries data-frames, data-fps, data-video-fps
const video = element.querySelector("video");
const overlay = element.querySelector("canvas");
const button = element.querySelector("button");
const statusLine = element.querySelector(".fercsv-live-status");
const bars = element.querySelector(".fercsv-probs");
const grab = document.createElement("canvas");
const sendWidth = Number(props.send_width) || 320;
const quality = Number(props.quality) || 0.7;
const fullScanEvery = Number(props.full_scan_every) || 1;
const mirror = props.mirror !== false;
let stream = null;
let faces = [];
let sentWidth = sendWidth;

// Frames per second over the last `keep` events, on the page's clock.
const rate = (keep) => {
  const times = [];
  return {
    tick() { times.push(performance.now()); if (times.length > keep) times.shift(); },
    get value() {
      if (times.length < 2 || performance.now() - times[times.length - 1] > 2000) return 0;
      return (times.length - 1) * 1000 / (times[times.length - 1] - times[0]);
    },
    clear() { times.length = 0; },
  };
};
const analysed = rate(30);
const shown = rate(60);
root.dataset.frames = "0";

let videoFrames = 0;  // frames the video has shown so far
const countVideoFrames = () => {
  if (!stream || !video.requestVideoFrameCallback) return;
  video.requestVideoFrameCallback(() => { videoFrames += 1; shown.tick(); countVideoFrames(); });
};
// Resolves when the video shows a frame newer than `seen` (at once where browsers cannot tell).
const newFrame = (seen) => (videoFrames > seen || !video.requestVideoFrameCallback ? Promise.resolve()
  : new Promise((done) => video.requestVideoFrameCallback(() => done())));

const fpsText = () => `analysed ${analysed.value.toFixed(1)} frames/s, video ${shown.value.toFixed(0)} frames/s`;

// What the overlay shows, in words: its accessible name.
const overlayText = () => (!stream ? "camera off" : !faces.length ? "no face found"
  : faces.map((f) => `${f.label} ${Math.round(f.score * 100)}%`).join(", "));

function draw() {
  overlay.setAttribute("aria-label", overlayText());
  const dpr = window.devicePixelRatio || 1;
  const w = video.clientWidth, h = video.clientHeight;
  if (overlay.width !== Math.round(w * dpr) || overlay.height !== Math.round(h * dpr)) {
    overlay.width = Math.round(w * dpr);
    overlay.height = Math.round(h * dpr);
  }
  const ctx = overlay.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (!stream) return;
  const scale = w / sentWidth;
  const thick = Math.max(2, Math.round(w / 320));
  ctx.font = `600 ${Math.max(13, Math.round(w / 36))}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  for (const face of faces) {
    const [bx, by, bw, bh] = face.box.map((v) => v * scale);
    const x = mirror ? w - bx - bw : bx;
    ctx.strokeStyle = "rgb(0,200,0)";
    ctx.lineWidth = thick;
    ctx.strokeRect(x, by, bw, bh);
    const text = `${face.label} ${Math.round(face.score * 100)}%`;
    const tw = ctx.measureText(text).width + 8, th = parseInt(ctx.font.split(" ")[1], 10) + 6;
    const ty = by - th > 0 ? by - th : by + bh;
    ctx.fillStyle = "rgb(0,200,0)";
    ctx.fillRect(x - thick / 2, ty, tw, th);
    ctx.fillStyle = "white";
    ctx.fillText(text, x + 4, ty + th - 3);
  }
  const fps = `${analysed.value.toFixed(1)} fps`;
  ctx.font = "600 15px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.lineWidth = 3;
  ctx.strokeStyle = "black";
  ctx.strokeText(fps, 8, 8);
  ctx.fillStyle = "white";
  ctx.fillText(fps, 8, 8);
}

// The largest face's probabilities as bars beside the video (emptied when no face is seen).
function showBars(probabilities) {
  if (!probabilities) {
    bars.replaceChildren();
    return;
  }
  const rows = Object.entries(probabilities).sort((a, b) => b[1] - a[1]).map(([label, p]) => {
    const row = document.createElement("div");
    row.className = "fercsv-bar";
    const name = document.createElement("span");
    name.textContent = `${label} ${Math.round(p * 100)}%`;
    const fill = document.createElement("i");
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    row.append(name, fill);
    return row;
  });
  bars.replaceChildren(...rows);
}

const pause = (ms) => new Promise((done) => setTimeout(done, ms));

let generation = 0;  // each Start begins a new loop; an older one still waiting for a frame ends

async function analyse(mine) {
  let sent = -1, sinceFull = 0;
  while (stream && mine === generation && root.isConnected) {
    // Nothing to send while the tab is hidden or the camera has no picture yet.
    if (video.readyState < 2 || !video.videoWidth || root.offsetParent === null || document.hidden) {
      await pause(100);
      continue;
    }
    await newFrame(sent);  // never the same picture twice: a fast server waits for the camera
    if (!stream || mine !== generation) break;
    sent = videoFrames;
    sentWidth = Math.min(sendWidth, video.videoWidth);
    grab.width = sentWidth;
    grab.height = Math.round(video.videoHeight * sentWidth / video.videoWidth);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    // Between full scans the server looks only around the faces it found last time (much cheaper).
    const followed = sinceFull + 1 < fullScanEvery && faces.length ? faces.map((f) => f.box) : [];
    sinceFull = followed.length ? sinceFull + 1 : 0;
    const answer = await server.live_faces({frame: grab.toDataURL("image/jpeg", quality), near: followed});
    if (!stream || mine !== generation) break;
    if (!answer || answer.error) {
      statusLine.textContent = answer ? answer.error : "the server did not answer; retrying";
      faces = [];
      draw();
      await pause(1000);
      continue;
    }
    faces = answer.faces;
    analysed.tick();
    root.dataset.frames = String(Number(root.dataset.frames) + 1);
    root.dataset.fps = analysed.value.toFixed(1);
    root.dataset.videoFps = shown.value.toFixed(1);
    statusLine.textContent = `${overlayText()} | ${fpsText()}`;
    draw();
    showBars(faces.length ? faces[0].probabilities : null);
  }
}

async function start() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    statusLine.textContent = "no camera here: open the page as http://localhost:PORT or over https";
    return;
  }
  button.disabled = true;
  try {
    // 640x480 is plenty: frames go to the server at `sendWidth` pixels wide.
    stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}});
  } catch (err) {
    // app_camera.js has put the reason in the page; this line says what state the tab is in.
    statusLine.textContent = `camera not started (${(err && err.name) || err})`;
    button.disabled = false;
    return;
  }
  stream.getVideoTracks().forEach((t) => t.addEventListener("ended", () => {
    stop();
    statusLine.textContent = "the camera stopped (unplugged or taken by another program); press Start camera";
  }));
  video.srcObject = stream;
  video.style.transform = mirror ? "scaleX(-1)" : "";
  await video.play().catch(() => {});
  button.textContent = "Stop camera";
  button.disabled = false;
  statusLine.textContent = "camera on; waiting for the first answer";
  countVideoFrames();
  generation += 1;
  analyse(generation);
}

function stop() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
  faces = [];
  analysed.clear();
  shown.clear();
  draw();
  showBars(null);
  button.textContent = "Start camera";
  statusLine.textContent = "camera off";
}

button.addEventListener("click", () => (stream ? stop() : start()));
window.addEventListener("resize", draw);
