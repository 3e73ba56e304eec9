"""Predict emotions on photos, arrays and face crops; draw the results; write CSV/JSON reports.

``predict(model, image)`` returns one :class:`FacePrediction` per detected face
(or one for the whole image with ``detect=False``).
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_path
from .errors import BadImageError
from .faces import crop_face, detect_faces
from .images import read_color, resize, to_gray  # noqa: F401 - read_color is public here too
from .modelio import load_model


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


def predict(model, image, *, detect=True, color_order="BGR", equalize=False, max_faces=None,
            **detect_options):
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
    probs = loaded.predict(np.stack(crops).astype(np.float32)[..., None] / 255.0)
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


def write_rows(rows, out_dir, stem="predictions"):
    """Write prediction rows as ``stem.csv`` and ``stem.json`` in ``out_dir``."""
    import pandas as pd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    flat = []
    for r in rows:
        row = {k: v for k, v in r.items() if k != "probabilities"}
        row.update({f"p_{k}": round(v, 6) for k, v in r.get("probabilities", {}).items()})
        flat.append(row)
    with atomic_path(out_dir / f"{stem}.csv") as tmp:
        pd.DataFrame(flat).to_csv(tmp, index=False)
    with atomic_path(out_dir / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(rows, indent=1))
    return out_dir / f"{stem}.csv", out_dir / f"{stem}.json"


def predict_files(model, paths, out_dir, *, detect=True, **options):
    """Predict each image file, write annotated copies and predictions.csv/json to ``out_dir``.

    Returns the list of row dicts (one per face; files without faces get a
    row with an empty label so nothing silently disappears).
    """
    loaded = load_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in paths:
        img = read_color(path)
        preds = predict(loaded, img, detect=detect, **options)
        name = Path(path).stem + "_pred.png"
        with atomic_path(out_dir / name) as tmp:
            ok, buf = cv2.imencode(".png", annotate(img, preds))
            tmp.write_bytes(buf.tobytes())
        if not preds:
            rows.append({"file": str(path), "face": -1, "box": None, "label": "", "score": 0.0,
                         "annotated": str(out_dir / name)})
        for i, p in enumerate(preds):
            rows.append({"file": str(path), "face": i, "box": p.box, "label": p.label,
                         "score": round(p.score, 6), "probabilities": p.probabilities,
                         "annotated": str(out_dir / name)})
    write_rows(rows, out_dir)
    return rows
