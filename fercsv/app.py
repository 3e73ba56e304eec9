"""A local web app for emotion recognition in the browser: live webcam, photo and video, on Gradio.

It runs wherever a browser does (a laptop, a headless server seen through a tunnel, a notebook
cell, Colab), needs only onnxruntime for the shipped or an ONNX model, and imports TensorFlow
only when given a Keras model. Install with ``pip install "fercsv[app]"``.

>>> from fercsv.app import launch
>>> launch()                            # doctest: +SKIP
>>> launch("run/", inline=True)         # doctest: +SKIP
"""
from __future__ import annotations

import atexit
import base64
import html
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import BadInputError, FercsvError, require

if TYPE_CHECKING:
    from .modelio import LoadedModel

#: Seconds between two webcam frames the page sends at most (the round trip sets the real rate).
STREAM_EVERY = 0.04
#: Width the live frames are brought down to before detection (webcams send 640 to 1920).
LIVE_WIDTH = 640


@dataclass
class FrameRate:
    """Frames per second over the last ``window`` frames of one live stream.

    >>> meter = FrameRate()
    >>> [round(meter.tick(now=t), 1) for t in (0.0, 0.1, 0.2)]
    [0.0, 10.0, 10.0]
    """

    window: int = 30
    frames: int = 0
    rate: float = 0.0
    _times: deque = field(default_factory=deque, repr=False)

    def tick(self, *, now=None) -> float:
        """Count one frame; returns (and keeps in ``rate``) the frames per second."""
        self.frames += 1
        self._times.append(time.perf_counter() if now is None else now)
        while len(self._times) > self.window:
            self._times.popleft()
        span = self._times[-1] - self._times[0]
        self.rate = (len(self._times) - 1) / span if span > 0 else 0.0
        return self.rate


def load_app_model(model=None) -> "LoadedModel":
    """The model the app uses: the shipped pretrained one when ``model`` is None, else a RUN_DIR,
    ``.keras`` or ``.onnx`` file (or an already loaded model)."""
    if model is None:
        from .pretrained import pretrained

        return pretrained()
    from .modelio import load_model

    return load_model(model)


def _label_text(preds):
    if not preds:
        return "no face found"
    return ", ".join(f"{p.label} {p.score:.0%}" for p in preds)


def live_frame(model, frame_rgb, meter: FrameRate) -> tuple:
    """One webcam frame (RGB array) -> the frame with boxes, labels and frames/s, and a status line."""
    from .faces import VIDEO_OPTIONS
    from .prediction import annotate, predict

    if frame_rgb is None:
        return None, meter, ""
    frame = np.asarray(frame_rgb)[..., :3]
    if frame.shape[1] > LIVE_WIDTH:
        h = round(frame.shape[0] * LIVE_WIDTH / frame.shape[1])
        frame = cv2.resize(frame, (LIVE_WIDTH, h), interpolation=cv2.INTER_AREA)
    preds = predict(model, frame, color_order="RGB", **VIDEO_OPTIONS)
    shown = annotate(frame, preds, color_order="RGB")
    fps = meter.tick()
    cv2.putText(shown, f"{fps:.1f} fps", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(shown, f"{fps:.1f} fps", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                cv2.LINE_AA)
    return shown[..., ::-1], meter, f"{_label_text(preds)} | {fps:.1f} fps"


def frame_html(frame_rgb, *, number, fps, text) -> str:
    """An annotated frame as an ``<img>`` with the JPEG inline: no file per frame, one message."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame_rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return (f'<img class="fercsv-live" src="data:image/jpeg;base64,{base64.b64encode(buf).decode()}" '
            f'data-frame="{number}" data-fps="{fps:.1f}" alt="{html.escape(text)}" '
            'style="width:100%;display:block">')


def _live_handler(model):
    def handle(frame_rgb, meter):
        shown, meter, text = live_frame(model, frame_rgb, meter)
        if shown is None:
            return "", meter, text
        return frame_html(shown, number=meter.frames, fps=meter.rate, text=text), meter, text

    return handle


def _upload_path(payload, kind):
    """Path and shown name of an uploaded file (Gradio's file data, a dict, or a plain path)."""
    if not payload:
        raise BadInputError(f"no {kind} given; upload a {kind} file first")
    if isinstance(payload, (str, Path)):
        return Path(payload), Path(payload).name
    path = payload.get("path")
    if not path:
        raise BadInputError(f"the {kind} upload did not arrive; upload it again")
    return Path(path), payload.get("orig_name") or Path(path).name


def analyze_photo(model, payload) -> tuple:
    """A photo -> (annotated RGB image, probabilities of the largest face, one line per face)."""
    from .images import read_color
    from .prediction import annotate, predict

    path, name = _upload_path(payload, "photo")
    try:
        image = read_color(path)
    except FercsvError:
        raise BadInputError(f"{name}: not an image fercsv can read; upload a JPEG, PNG, BMP or WebP photo") \
            from None
    preds = predict(model, image)
    probs = preds[0].probabilities if preds else None
    lines = [f"face {k}: {p.label} {p.score:.0%} at {p.box}" for k, p in enumerate(preds)]
    text = "\n".join(lines) if lines else (f"{name}: no face found; try a frontal, well-lit photo "
                                            "where the face is at least 40 pixels wide")
    return annotate(image, preds)[..., ::-1], probs, text


def analyze_video(model, payload, out_root, *, every: int = 1, progress: bool = False) -> tuple:
    """A video -> (annotated WebM, emotion-over-time PNG, video-level probabilities, summary text)."""
    from .video import predict_video

    path, name = _upload_path(payload, "video")
    out = Path(tempfile.mkdtemp(prefix="video-", dir=out_root))
    try:
        result = predict_video(model, path, out, every=int(every), video_format="webm", progress=progress)
    except BadInputError as exc:
        out.rmdir()
        raise BadInputError(str(exc).replace(str(path), name)) from None
    people = [f"person {p['track']}: {p['label']} ({p['frames']} frames, {p['start']:.1f}-{p['end']:.1f} s)"
              for p in result.people]
    text = "\n".join([f"{name}: {result.label or 'no face found'} ({result.method} over "
                      f"{result.frames_with_face}/{result.frames} frames with a face; "
                      f"{result.fps:.1f} frames/s)", *people])
    return result.files["video"], result.files["timeline"], result.scores or None, text


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local demo
    return require("gradio", extra="app", feature="the fercsv app")


def _theme(gr):
    # System fonts: the default theme fetches web fonts, which an offline laptop cannot.
    fonts = [gr.themes.Font("ui-sans-serif"), gr.themes.Font("system-ui"), gr.themes.Font("sans-serif")]
    mono = [gr.themes.Font("ui-monospace"), gr.themes.Font("monospace")]
    return gr.themes.Default(font=fonts, font_mono=mono)


def _as_page_error(gr, fn):
    """Run ``fn``; a known fercsv error becomes one message in the page, and the app keeps running."""
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FercsvError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return wrapped


def build_app(model=None, *, title: str = "fercsv: emotions in the browser"):
    """The Gradio Blocks of the app (not started): tabs Live webcam, Photo, Video.

    ``model``: None for the shipped pretrained model, a RUN_DIR, ``.keras`` or ``.onnx``.
    """
    gr = _gradio()
    loaded = load_app_model(model)
    out_root = tempfile.mkdtemp(prefix="fercsv-app-")
    atexit.register(shutil.rmtree, out_root, ignore_errors=True)
    labels = len(loaded.label_names)

    def photo(payload):
        if not payload:  # the photo was cleared
            return None, None, ""
        return analyze_photo(loaded, payload)

    def video(payload, every, progress=gr.Progress(track_tqdm=True)):
        return analyze_video(loaded, payload, out_root, every=every, progress=True)

    # Uploaded and produced files live in Gradio's cache: drop those older than an hour.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(600, 3600)) as blocks:
        gr.Markdown(f"## {title}\nModel: `{Path(str(getattr(loaded, 'source', 'model'))).name}` "
                    f"({', '.join(loaded.label_names)})")
        with gr.Tab("Live webcam", id="live"):
            gr.Markdown("Click the camera box, allow the camera, then press Record; boxes, labels and "
                        "frames per second appear on the right.")
            gr.HTML('<div id="fercsv-camera-message" role="alert" style="display:none;color:#b91c1c;'
                    'font-weight:600"></div>')
            with gr.Row():
                # Ask for 640x480: a laptop camera's HD frames would cost JPEG time on both ends.
                cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera",
                               elem_id="live-camera", webcam_options=gr.WebcamOptions(constraints={
                                   "video": {"width": {"ideal": LIVE_WIDTH}, "height": {"ideal": 480}}}))
                live = gr.HTML(label="emotions", elem_id="live-output")
            status = gr.Textbox(label="faces and frames per second", elem_id="live-status",
                                interactive=False)
            meter = gr.State(FrameRate())
            cam.stream(_as_page_error(gr, _live_handler(loaded)), [cam, meter],
                       [live, meter, status], stream_every=STREAM_EVERY, show_progress="hidden",
                       concurrency_limit=1)
        with gr.Tab("Photo", id="photo"):
            with gr.Row():
                photo_in = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath",
                                    label="photo", elem_id="photo-input")
                photo_out = gr.Image(label="faces", format="png", elem_id="photo-output",
                                     interactive=False)
            photo_probs = gr.Label(num_top_classes=labels, label="probabilities (largest face)",
                                   elem_id="photo-probs")
            photo_text = gr.Textbox(label="faces", elem_id="photo-text", interactive=False)
            photo_in.change(_as_page_error(gr, photo), photo_in, [photo_out, photo_probs, photo_text],
                            preprocess=False)
        with gr.Tab("Video", id="video"):
            with gr.Row():
                video_in = gr.Video(sources=["upload"], label="video", elem_id="video-input")
                video_out = gr.Video(label="annotated", elem_id="video-output", interactive=False)
            every = gr.Slider(1, 10, value=1, step=1, label="use every N-th frame", elem_id="video-every")
            run = gr.Button("Analyze video", variant="primary", elem_id="video-run")
            with gr.Row():
                timeline = gr.Image(label="emotion over time", format="png", elem_id="video-timeline",
                                    interactive=False)
                video_probs = gr.Label(num_top_classes=labels, label="emotion of the video",
                                       elem_id="video-probs")
            video_text = gr.Textbox(label="summary", elem_id="video-text", interactive=False, lines=3)
            outputs = [video_out, timeline, video_probs, video_text]
            run.click(_as_page_error(gr, video), [video_in, every], outputs, preprocess=False)
    return blocks


def _page_options(gr) -> dict:
    """What ``Blocks.launch`` needs besides the blocks: theme and the camera-message script."""
    from importlib import resources

    script = (resources.files("fercsv") / "js" / "app_camera.js").read_text(encoding="utf-8")
    return {"theme": _theme(gr), "head": f"<script>{script}</script>"}


def launch(model=None, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           inline: bool | None = None, open_browser: bool | None = None, block: bool = True) -> str:
    """Start the app and return its local URL (``block=False`` returns at once, the app keeps serving).

    ``host="0.0.0.0"`` serves other machines on the network; ``share=True`` asks Gradio for a public
    link (needs the internet); ``inline`` shows it in a notebook cell (the default in notebooks
    and Colab); ``open_browser`` opens a tab (default: yes, unless in a notebook).
    ``port=None`` takes the first free port from 7860.
    """
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise BadInputError(f"port must be a whole number from 1 to 65535, not {port!r}")
    in_notebook = "ipykernel" in sys.modules
    gr = _gradio()
    blocks = build_app(model)
    try:
        _, url, _ = blocks.launch(server_name=host, server_port=port, share=share, inline=inline,
                                  inbrowser=not in_notebook if open_browser is None else open_browser,
                                  prevent_thread_lock=True, show_error=True, footer_links=[], quiet=True,
                                  **_page_options(gr))
    except OSError as exc:
        raise FercsvError(f"cannot serve the app on {host}:{port or '7860+'} ({(str(exc).splitlines() or [type(exc).__name__])[0]}); "
                          "choose another --port, or stop the program using it") from None
    print(f"fercsv app at {url} (Ctrl-C to stop)", flush=True)
    if block and not in_notebook:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            blocks.close()
    return url
