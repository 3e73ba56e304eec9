// Shared by take_photo.js and webcam_stream.js: fercsv.colab.script() puts this file first.
window.fercsvFitFrame = function () {
  // Colab sizes a cell's output frame once; grow it to show the whole widget.
  const out = window.google && google.colab && google.colab.output;
  if (out && out.setIframeHeight) out.setIframeHeight(document.documentElement.scrollHeight, true);
};

// Start the camera in `video`; resolve to the stream, or to 'error:<name>' after removing `widget`.
window.fercsvOpenCamera = async function (video, widget, constraints) {
  let stream = null;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraints);
    video.srcObject = stream;
    await video.play();
    return stream;
  } catch (err) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    widget.remove();
    return 'error:' + (err && err.name ? err.name : String(err));
  }
};
