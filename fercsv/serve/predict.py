"""Predict emotions on photos, arrays and face crops, and draw the results.

``predict(model, image)`` returns one :class:`FacePrediction` per detected face
(or one for the whole image with ``detect=False``). Batch jobs over files,
folders, globs and videos are :func:`fercsv.serve.batch.predict_paths`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import BadImageError
from ..runtime.contract import to_input
from ..runtime.loading import load_model
from ..vision.faces import crop_face, detect_faces
from ..vision.images import read_color, resize, to_gray


@dataclass
class FacePrediction:
    """One face: its box ``(x, y, w, h)`` (None for a whole-image prediction), label, scores."""

    box: tuple
    label: str
    score: float
    probabilities: dict

    def to_dict(self):
        return asdict(self)


def _faces_of(image, *, detect, size, equalize, color_order, detect_options):
    if not detect:
        gray = to_gray(image, color_order=color_order)
        face = resize(gray, size)
        return [None], [cv2.equalizeHist(face) if equalize else face]
    boxes = detect_faces(image, color_order=color_order, **detect_options)
    return boxes, [crop_face(image, b, size=size, equalize=equalize, color_order=color_order)
                   for b in boxes]


def predict(model, image, *, detect: bool = True, color_order: str = "BGR", equalize: bool = False,
            max_faces: int | None = None, **detect_options) -> list:
    """Predict the emotion of every face in ``image``.

    ``image`` is a file path, or an array: grayscale, BGR (OpenCV) or RGB
    (``color_order="RGB"``), any size; ``detect=False`` treats it as one
    already-cropped face. ``model`` is a RUN_DIR, a .keras/.onnx file, a Keras
    model or a loaded model (load once with ``fercsv.load_model`` for speed).

    >>> fercsv.predict("run", "photo.jpg")[0].label               # doctest: +SKIP
    'happy'
    """
    loaded = load_model(model)
    if isinstance(image, (str, Path)):
        image, color_order = read_color(image), "BGR"
    image = np.asarray(image)
    if image.size == 0:
        raise BadImageError("empty image array")
    size = loaded.input_shape[0]
    boxes, crops = _faces_of(image, detect=detect, size=size, equalize=equalize,
                             color_order=color_order, detect_options=detect_options)
    if max_faces:
        boxes, crops = boxes[:max_faces], crops[:max_faces]
    if not crops:
        return []
    probs = loaded.predict(to_input(np.stack(crops)))
    out = []
    for box, p in zip(boxes, probs):
        k = int(np.argmax(p))
        out.append(FacePrediction(None if box is None else tuple(int(v) for v in box),
                                  loaded.label_names[k], float(p[k]),
                                  {n: float(v) for n, v in zip(loaded.label_names, p)}))
    return out


def annotate(image, predictions, *, color=(0, 200, 0), color_order="BGR"):
    """A copy of ``image`` (as BGR) with a box and "label 87%" drawn for each face."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif color_order == "RGB":
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    else:
        img = img[..., :3].copy()
    thick = max(1, round(max(img.shape[:2]) / 300))
    for p in predictions:
        x, y, w, h = p.box if p.box is not None else (0, 0, img.shape[1] - 1, img.shape[0] - 1)
        cv2.rectangle(img, (x, y), (x + w, y + h), color, thick)
        text = f"{p.label} {p.score:.0%}"
        scale = max(0.4, w / 220)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 6 > 0 else y + h + th + 4
        cv2.rectangle(img, (x, ty - th - 4), (x + tw + 4, ty + base - 2), color, -1)
        cv2.putText(img, text, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                    cv2.LINE_AA)
    return img
