"""Find faces with OpenCV's Haar cascade and crop them to square 48x48 grayscale.

Boxes are ``(x, y, w, h)`` in pixels of the input image, largest face first.
"""
import functools
import os
from pathlib import Path

import cv2

from ..core.errors import BadImageError, FercsvError
from .images import load_gray, read_color, resize, to_gray

CASCADE_FILE = "haarcascade_frontalface_default.xml"

#: Crop margin around a detected box (fraction of the box on each side), chosen to make detected faces
#: look like FER-2013's tight crops: on 756 detected PublicTest faces (benchmarks/face_margin.py) the
#: FER crop is 1.03x the Haar box; margin 0.05 scored 65.1 % with the shipped fer2013 model (0.00: 64.8 %,
#: the former 0.10: 64.6 %, 0.20: 59.9 %; the given crops: 63.9 %).
CROP_MARGIN = 0.05

#: Detection settings for live video and webcam frames: searched at 320 pixels with coarser
#: scale steps, about 3x faster than the photo defaults (faces in such frames are large).
VIDEO_OPTIONS = {"max_side": 320, "scale_factor": 1.2}


def cascade_path():
    """Path of the frontal-face Haar cascade ($FERCSV_HAAR_CASCADE overrides).

    OpenCV 5 wheels stopped shipping the cascades; fercsv asks for OpenCV 4.
    """
    env = os.environ.get("FERCSV_HAAR_CASCADE")
    candidates = [Path(env)] if env else []
    data = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if data:
        candidates.append(Path(data) / CASCADE_FILE)
    candidates += [Path(p) / CASCADE_FILE for p in ("/usr/share/opencv4/haarcascades",
                                                    "/usr/share/opencv/haarcascades")]
    for c in candidates:
        if c.is_file():
            return c
    raise FercsvError(
        f"the Haar cascade {CASCADE_FILE} was not found (OpenCV {cv2.__version__}"
        f"{' no longer ships cv2.data.haarcascades' if cv2.__version__.startswith('5') else ''}); "
        "install OpenCV 4 with: pip install 'opencv-python-headless>=4.6,<5', "
        "or set FERCSV_HAAR_CASCADE to the XML file")


@functools.lru_cache(maxsize=4)
def _cascade(path):
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise FercsvError(f"{path}: OpenCV could not load this Haar cascade file; reinstall OpenCV 4")
    return clf


def detect_faces(image, *, scale_factor=1.1, min_neighbors=5, min_size=(30, 30), max_side=640,
                 color_order="BGR"):
    """Boxes ``(x, y, w, h)`` of frontal faces, largest first.

    Images larger than ``max_side`` are searched at reduced size (faster; boxes
    are scaled back). Parameters are OpenCV's ``detectMultiScale`` options.

    >>> import numpy as np
    >>> from fercsv.data.synth import synth_photo
    >>> photo, truth = synth_photo(n_faces=2, seed=0)          # a grey 480x640 picture of two drawn faces
    >>> boxes = detect_faces(photo)
    >>> len(boxes), boxes[0][2] * boxes[0][3] >= boxes[1][2] * boxes[1][3]       # largest first
    (2, True)
    >>> crop_face(photo, boxes[0]).shape                       # what the model sees
    (48, 48)
    >>> detect_faces(np.full((240, 320), 128, np.uint8))
    []
    """
    gray = to_gray(image, color_order=color_order)
    scale = 1.0
    side = max(gray.shape)
    if max_side and side > max_side:
        scale = max_side / side
        gray = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    ms = (max(1, round(min_size[0] * scale)), max(1, round(min_size[1] * scale)))
    found = _cascade(cascade_path()).detectMultiScale(
        cv2.equalizeHist(gray), scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=ms)
    boxes = [tuple(int(round(v / scale)) for v in b) for b in (found if len(found) else [])]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def crop_face(image, box, *, margin=CROP_MARGIN, size=48, equalize=False, color_order="BGR"):
    """Square grayscale crop around ``box`` with ``margin`` (fraction of the box) on each side.

    Parts outside the image are filled by replicating the border.
    """
    gray = to_gray(image, color_order=color_order)
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    pad = max(0, -x0, -y0, x0 + side - gray.shape[1], y0 + side - gray.shape[0])
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    face = resize(gray[y0:y0 + side, x0:x0 + side], size)
    return cv2.equalizeHist(face) if equalize else face


def face_preprocessor(*, size=48, equalize=False, keep_no_face=False, margin=CROP_MARGIN, **detect_options):
    """A ``path -> face`` function for ``folder_to_csv(preprocess=...)`` (CLI ``convert --faces``).

    Crops the largest face; a photo with none raises BadImageError ("no face
    found"), or is kept whole when ``keep_no_face``.
    """
    def preprocess(path):
        img = read_color(path)
        boxes = detect_faces(img, **detect_options)
        if boxes:
            return crop_face(img, boxes[0], margin=margin, size=size, equalize=equalize)
        if keep_no_face:
            return load_gray(path, size=size, equalize=equalize)
        raise BadImageError(f"{path}: no face found", path=str(path), reason="no face found")

    return preprocess
