"""A local web app for emotion recognition in the browser: live webcam, photo and video, on Gradio.

It runs wherever a browser does (a laptop, a headless server seen through a tunnel, a notebook
cell, Colab), needs only onnxruntime for the shipped or an ONNX model, and imports TensorFlow
only when given a Keras model. Install with ``pip install "fercsv[app]"``.

>>> from fercsv import launch_app as launch
>>> launch()                            # doctest: +SKIP
>>> launch("run/", inline=True)         # doctest: +SKIP
"""
from __future__ import annotations

import atexit
import base64
import inspect
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..core.errors import BadInputError, FercsvError, MissingDependencyError, require

if TYPE_CHECKING:
    from ..runtime.loading import LoadedModel

#: Width of the frames the page sends for analysis (detection runs at 320 pixels anyway).
LIVE_WIDTH = 320
#: JPEG quality (0-1, as the browser's canvas takes it) of those frames.
LIVE_QUALITY = 0.7
#: Every how many live frames the whole frame is searched for faces (in between: around the last ones).
LIVE_FULL_SCAN_EVERY = 10
#: Margin of the window searched around a known face, in face widths on each side.
LIVE_WINDOW_MARGIN = 0.6
#: Most faces the page may ask to be followed.
LIVE_MAX_FACES = 10
#: Largest live frame accepted, in characters of its data URL (a 320-pixel JPEG takes about 20 000).
LIVE_MAX_CHARS = 2_000_000


def load_app_model(model=None) -> "LoadedModel":
    """The model the app uses: the shipped pretrained one when ``model`` is None, else a RUN_DIR,
    ``.keras`` or ``.onnx`` file (or an already loaded model)."""
    if model is None:
        from ..runtime.loading import pretrained

        return pretrained()
    from ..runtime.loading import load_model

    return load_model(model)


def decode_frame(frame) -> np.ndarray:
    """A frame from the page (a ``data:image/jpeg;base64,...`` URL) -> a grayscale array.

    >>> decode_frame("data:image/jpeg;base64,AAAA")
    Traceback (most recent call last):
    fercsv.BadInputError: the live frame is not an image the browser's canvas makes; reload the page
    """
    if not isinstance(frame, str) or not frame.startswith("data:image/") or len(frame) > LIVE_MAX_CHARS:
        raise BadInputError("the live frame must be a JPEG or PNG data URL under "
                            f"{LIVE_MAX_CHARS / 1e6:g} MB; reload the page")
    try:
        raw = base64.b64decode(frame.partition(",")[2], validate=True)
    except ValueError:
        raw = b""
    gray = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE) if raw else None
    if gray is None:
        raise BadInputError("the live frame is not an image the browser's canvas makes; reload the page")
    return gray


def _windows(near, shape):
    """Windows around the faces of the previous frame (``[x, y, w, h]`` each), inside the frame."""
    if not isinstance(near, (list, tuple)) or len(near) > LIVE_MAX_FACES or not all(
            isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)
            for b in near):
        raise BadInputError(f"'near' must list at most {LIVE_MAX_FACES} boxes [x, y, w, h]; reload the page")
    out = []
    for x, y, w, h in near:
        pad = max(w, h) * LIVE_WINDOW_MARGIN
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(shape[1], int(x + w + pad)), min(shape[0], int(y + h + pad))
        if x1 - x0 >= 24 and y1 - y0 >= 24:
            out.append((x0, y0, x1, y1))
    return out


def frame_faces(model, frame, *, near=None) -> dict:
    """One small camera frame (data URL or array) -> its faces, as the page draws them over the video.

    ``near``: the boxes found in the previous frame; only windows around them are searched (a few
    times faster than the whole frame, which the page still has searched every
    ``LIVE_FULL_SCAN_EVERY`` frames, and whenever no face is known). Returns ``{"width", "height",
    "faces": [{"box": [x, y, w, h], "label", "score", "probabilities"}]}`` in the frame's pixels,
    largest face first.

    >>> from fercsv import pretrained
    >>> frame_faces(pretrained(), np.full((240, 320), 128, np.uint8))
    {'width': 320, 'height': 240, 'faces': []}
    """
    from ..vision.faces import VIDEO_OPTIONS
    from .predict import predict

    image = frame if isinstance(frame, np.ndarray) else decode_frame(frame)
    if not near:
        preds = predict(model, image, color_order="RGB", **VIDEO_OPTIONS)
    else:
        preds = []
        for x0, y0, x1, y1 in _windows(near, image.shape):
            for p in predict(model, image[y0:y1, x0:x1], color_order="RGB", max_faces=1, **VIDEO_OPTIONS):
                x, y, w, h = p.box
                p.box = (x + x0, y + y0, w, h)
                cx, cy = x + x0 + w / 2, y + y0 + h / 2  # two windows may see the same face
                if not any(q.box[0] <= cx <= q.box[0] + q.box[2] and q.box[1] <= cy <= q.box[1] + q.box[3]
                           for q in preds):
                    preds.append(p)
        preds.sort(key=lambda p: -p.box[2] * p.box[3])
    return {"width": int(image.shape[1]), "height": int(image.shape[0]),
            "faces": [{"box": list(p.box), "label": p.label, "score": round(p.score, 4),
                       "probabilities": {k: round(v, 4) for k, v in p.probabilities.items()}} for p in preds]}


def _live_server_function(model):
    """``live_faces`` for the page: one frame at a time, and a bad frame as ``{"error": ...}``."""
    lock = threading.Lock()  # one model and one face detector, shared by every open page

    def live_faces(data):  # the page calls server.live_faces({frame: jpeg, near: boxes}) by this name
        frame, near = (data.get("frame"), data.get("near")) if isinstance(data, dict) else (data, None)
        try:
            with lock:
                return frame_faces(model, frame, near=near)
        except BadInputError as exc:
            return {"error": str(exc)}

    return live_faces


def _live_html():
    """The Live webcam tab: the camera's video, a canvas over it for boxes and labels, a status line.

    The canvas is an image named after what it shows (``happy 92%``, ``no face found``, ``camera
    off``), so the label drawn over a face can be read, not only seen."""
    from importlib import resources

    script = (resources.files("fercsv") / "js" / "app_live.js").read_text(encoding="utf-8")
    template = ('<div class="fercsv-live"><div id="fercsv-camera-message" role="alert"></div>'
                '<button type="button" class="fercsv-start">Start camera</button><div class="fercsv-row">'
                '<div class="fercsv-stage"><video muted playsinline></video>'
                '<canvas role="img" aria-label="camera off"></canvas></div>'
                '<div class="fercsv-side"><b>largest face</b><div class="fercsv-probs"></div></div></div>'
                '<p class="fercsv-live-status" role="status">camera off</p></div>')
    css = ("#fercsv-camera-message{display:none;color:#b91c1c;font-weight:600;margin-bottom:8px}"
           ".fercsv-row{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}"
           ".fercsv-stage{position:relative;flex:3 1 400px;max-width:720px;background:#222;min-height:120px}"
           ".fercsv-stage video{width:100%;display:block}"
           ".fercsv-stage canvas{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}"
           ".fercsv-side{flex:1 1 200px;max-width:320px;font-size:14px}"
           ".fercsv-side b{display:block;margin-bottom:6px}"
           ".fercsv-bar{position:relative;margin:0 0 6px;padding:3px 8px;border-radius:4px;"
           "background:var(--block-background-fill);overflow:hidden}"
           ".fercsv-bar i{position:absolute;left:0;top:0;bottom:0;background:rgba(0,200,0,.35)}"
           ".fercsv-bar span{position:relative}"
           ".fercsv-start{margin:0 0 8px;padding:6px 16px;border-radius:6px;font-weight:600;"
           "background:var(--button-primary-background-fill);color:var(--button-primary-text-color)}"
           ".fercsv-live-status{margin:6px 0;font-family:var(--font-mono);min-height:1.4em}")
    return dict(html_template=template, css_template=css, js_on_load=script, send_width=LIVE_WIDTH,
                quality=LIVE_QUALITY, full_scan_every=LIVE_FULL_SCAN_EVERY, mirror=True)


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
    from ..vision.images import read_color
    from .predict import annotate, predict

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
    gr = require("gradio", extra="app", feature="the fercsv app")
    # The live tab calls Python from its own JavaScript (gr.HTML server functions, Gradio 6.10+).
    if "server_functions" not in inspect.signature(gr.HTML).parameters:
        raise MissingDependencyError(f"the fercsv app needs Gradio 6.10 or newer, not {gr.__version__}; "
                                     "upgrade with: pip install -U 'fercsv[app]'")
    return gr


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
            # Not the button's words in bold: a person (or a script) looking for "Start camera"
            # would find these inert words above the button first, click them, and wait forever.
            gr.Markdown("Start the camera with the button below and allow it: boxes and labels appear "
                        "over the video, with the frames analysed per second.")
            gr.HTML(elem_id="live", server_functions=[_live_server_function(loaded)], **_live_html())
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

    >>> import fercsv, gradio, urllib.request
    >>> url = fercsv.launch_app(block=False, open_browser=False)        # doctest: +ELLIPSIS
    fercsv app at http://127.0.0.1:.../ (Ctrl-C to stop)
    >>> "fercsv: emotions in the browser" in urllib.request.urlopen(url, timeout=30).read().decode()
    True
    >>> gradio.close_all(verbose=False)                                # stops it
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
