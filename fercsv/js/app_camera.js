// fercsv app: say in the page why the camera does not start (blocked, absent, busy, insecure page).
// Loaded in the page head; it watches getUserMedia and writes into #fercsv-camera-message.
(() => {
  const say = (text) => {
    const box = document.getElementById("fercsv-camera-message");
    if (box) {
      box.textContent = text;
      box.style.display = text ? "block" : "none";
    } else if (text) {
      console.error("fercsv:", text);
    }
  };
  const explain = (err) => {
    const name = (err && err.name) || "Error";
    if (name === "NotAllowedError" || name === "SecurityError") {
      return `The camera is blocked (${name}): allow camera access for this page in the browser's ` +
        "site settings, then press Start camera again. The Photo and Video tabs work without a camera.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return `No camera found (${name}): connect a webcam and reload, or use the Photo and Video tabs.`;
    }
    if (name === "NotReadableError" || name === "AbortError") {
      return `The camera is busy or failed to start (${name}): close other programs using it and try again.`;
    }
    return `The camera could not start (${name}: ${(err && err.message) || "no details"}).`;
  };
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) {
    const text = "This page cannot use a camera: open it as http://localhost:PORT or over https " +
      "(browsers allow cameras only there). The Photo and Video tabs still work.";
    window.addEventListener("load", () => setTimeout(() => say(text), 500));
    return;
  }
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = (constraints) => original(constraints).then(
    (stream) => { say(""); return stream; },
    (err) => { say(explain(err)); throw err; });
})();
