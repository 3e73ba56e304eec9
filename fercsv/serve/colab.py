"""Google Colab helpers: webcam photo, live webcam emotions, Drive mounting.

The webcam lives in the browser, so Python talks to it through JavaScript
evaluated by ``google.colab.output.eval_js``; the JavaScript ships in
``fercsv/js``. Outside Colab these functions raise a clear error.
"""
import base64
import time
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

from ..core.errors import FercsvError


class NotInColabError(FercsvError):
    """A Colab-only helper was called outside Google Colab."""


def in_colab():
    """True inside a Google Colab runtime."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def _eval_js():
    try:
        from google.colab.output import eval_js
    except ImportError:
        raise NotInColabError("this needs Google Colab (google.colab.output.eval_js); elsewhere use "
                              "fercsv.predict on image files or cv2.VideoCapture for a local camera") from None
    return eval_js


def script(name):
    """Source of one of fercsv's JavaScript files (``take_photo``, ``webcam_stream``), after the
    camera helpers they share (``camera.js``)."""
    folder = resources.files("fercsv").joinpath("js")
    return folder.joinpath("camera.js").read_text() + "\n" + folder.joinpath(f"{name}.js").read_text()


def data_url_to_image(url):
    """Decode a ``data:image/...;base64,`` URL to a BGR uint8 array."""
    if not isinstance(url, str) or "," not in url:
        raise FercsvError(f"the browser returned no image ({str(url)[:60]!r})")
    raw = base64.b64decode(url.split(",", 1)[1])
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise FercsvError("the browser returned an image that could not be decoded")
    return img


def image_to_data_url(image, *, fmt=".png"):
    """Encode an array (BGR or BGRA) as a data URL."""
    ok, buf = cv2.imencode(fmt, image)
    kind = "png" if fmt == ".png" else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _camera_error(result):
    """Raise one clear line when the browser answered ``error:<name>`` instead of a frame."""
    if isinstance(result, str) and result.startswith("error:"):
        reason = result[6:]
        hint = ("allow camera access for this site in the browser and run the cell again"
                if reason in ("NotAllowedError", "PermissionDeniedError", "SecurityError")
                else "check that a camera is connected and not used by another program")
        raise FercsvError(f"the camera is not available ({reason}); {hint}")


def take_photo(filename=None, quality=0.8):
    """Show the webcam with a Capture button in Colab; return the photo as a BGR array.

    Saves it to ``filename`` too when given. Raises a clear error outside
    Colab or when the user (or browser) denies the camera; the widget is removed either way.

    >>> photo = fercsv.colab.take_photo("me.jpg")      # doctest: +SKIP
    """
    eval_js = _eval_js()
    result = eval_js(script("take_photo") + f"\nfercsvTakePhoto({float(quality)})")
    _camera_error(result)
    image = data_url_to_image(result)
    if filename:
        cv2.imwrite(str(filename), image)
    return image


def overlay_png(shape, predictions):
    """A transparent BGRA image of ``shape`` with boxes and labels, as a PNG data URL."""
    from .predict import annotate

    h, w = shape[:2]
    canvas = np.zeros((h, w, 3), np.uint8)
    drawn = annotate(canvas, predictions)
    alpha = (drawn.max(axis=2) > 0).astype(np.uint8) * 255
    return image_to_data_url(np.dstack([drawn, alpha]))


@dataclass
class StreamReport:
    """What a live webcam session did."""

    frames: int
    frames_with_face: int
    seconds: float
    last: list

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds else 0.0

    def __str__(self):
        return (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} frames/s), "
                f"{self.frames_with_face} with a face")


def webcam_emotions(model=None, *, max_frames=None, max_seconds=None, **predict_options):
    """Live emotions on the Colab webcam: each round trip grabs a frame in JavaScript,
    detects and predicts in Python, and sends back a transparent overlay PNG.

    ``model``: a RUN_DIR, model file or loaded model; ``None`` uses the shipped
    pretrained model (:func:`fercsv.pretrained`). Stops when the user
    clicks Stop (or the video), after ``max_frames`` frames or ``max_seconds``
    seconds. Returns a :class:`StreamReport` (frames per second).

    >>> print(fercsv.colab.webcam_emotions(max_seconds=30))   # doctest: +SKIP
    """
    from ..vision.faces import VIDEO_OPTIONS
    from ..runtime.loading import load_model
    from .predict import predict

    predict_options = {**VIDEO_OPTIONS, **predict_options}
    eval_js = _eval_js()
    if model is None:
        from ..runtime.loading import pretrained

        loaded = pretrained()
    else:
        loaded = load_model(model)
    _camera_error(eval_js(script("webcam_stream") + "\nfercsvStartStream()"))
    overlay, text = "", ""
    frames = with_face = 0
    last = []
    t0 = time.perf_counter()
    try:
        while True:
            if max_frames is not None and frames >= max_frames:
                break
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                break
            url = eval_js(_call("fercsvStreamFrame", overlay, text))
            if not url:
                break
            frame = data_url_to_image(url)
            last = predict(loaded, frame, **predict_options)
            frames += 1
            with_face += bool(last)
            overlay = overlay_png(frame.shape, last)
            fps = frames / (time.perf_counter() - t0)
            text = (", ".join(f"{p.label} {p.score:.0%}" for p in last) or "no face") + \
                f" | {fps:.1f} frames/s | Stop (or click the video) to end"
    finally:
        eval_js("fercsvStopStream()")
    return StreamReport(frames, with_face, time.perf_counter() - t0, last)


def _call(function, *args):
    import json

    return f"{function}({', '.join(json.dumps(a) for a in args)})"


#: Where :func:`mount_drive` mounted Google Drive in this session (None: not yet).
MOUNTED = None


def mount_drive(path="/content/drive"):
    """Mount Google Drive in Colab and return the path of "My Drive".

    >>> my_drive = fercsv.colab.mount_drive()        # doctest: +SKIP
    """
    global MOUNTED
    if not in_colab():
        raise NotInColabError("mount_drive works only in Google Colab; elsewhere use a local folder")
    from google.colab import drive

    drive.mount(str(path))
    MOUNTED = f"{path}/MyDrive"
    return MOUNTED


def face_model(trained=None, *, trained_on_real_data=False):
    """The model to show on real faces (photos, webcam), and a line saying which one it is.

    ``trained`` is used when it learnt from real faces; otherwise the shipped pretrained model
    (:func:`fercsv.pretrained`); when this install has none, ``trained`` with a plain
    warning that a model trained on synthetic faces cannot read real ones.

    >>> model, note = fercsv.colab.face_model(RUN, trained_on_real_data=False)   # doctest: +SKIP
    """
    if trained is not None and trained_on_real_data:
        return trained, "using the model trained in this notebook on real faces"
    from ..runtime.loading import pretrained
    from ..runtime.shipped import DEFAULT_PRETRAINED

    try:
        return pretrained(), (f"using fercsv's pretrained {DEFAULT_PRETRAINED!r} model for real faces "
                              "(the model trained here has seen only synthetic faces)")
    except FercsvError:
        if trained is None:
            raise
        return trained, ("NOTE: this model was trained on synthetic faces and cannot read real faces, and this "
                         "install has no pretrained model yet; set DATA to FER-2013 and train again")
