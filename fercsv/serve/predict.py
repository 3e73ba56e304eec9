"""Predict emotions on photos, arrays and face crops, and draw the results.

``predict(model, image)`` returns one :class:`FacePrediction` per detected face
(or one for the whole image with ``detect=False``). Batch jobs over files,
folders, globs and videos are :func:`fercsv.serve.batch.predict_paths`.
"""
from __future__ import annotations

import glob
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import BadImageError, BadInputError
from ..runtime.contract import to_input
from ..runtime.loading import load_model
from ..vision.faces import crop_face, detect_faces
from ..vision.images import is_image_name, read_color, resize, to_gray
from .inputs import expand_inputs


@dataclass
class FacePrediction:
    """One face: its box ``(x, y, w, h)`` (None for a whole-image prediction), label, scores.

    ``source`` is the file the face came from, when the input was a file.

    >>> import fercsv
    >>> face = fercsv.synth_dataset(per_class=1).images[3]                # a drawn face, 48x48 grey
    >>> p = fercsv.predict("fer2013", face, detect=False)[0]
    >>> p.box, p.label in fercsv.FER2013_LABELS, p.score == max(p.probabilities.values())
    (None, True, True)
    >>> sorted(p.to_dict()), round(sum(p.probabilities.values()), 3)
    (['box', 'label', 'probabilities', 'score', 'source'], 1.0)
    """

    box: tuple
    label: str
    score: float
    probabilities: dict
    source: str | None = None

    def to_dict(self):
        return asdict(self)


#: How many faces go through the model in one call.
BATCH_SIZE = 256


def _faces_of(image, *, detect, size, equalize, color_order, detect_options):
    if not detect:
        gray = to_gray(image, color_order=color_order)
        face = resize(gray, size)
        return [None], [cv2.equalizeHist(face) if equalize else face]
    boxes = detect_faces(image, color_order=color_order, **detect_options)
    return boxes, [crop_face(image, b, size=size, equalize=equalize, color_order=color_order)
                   for b in boxes]


def _is_path(x) -> bool:
    return isinstance(x, (str, Path))


def _expand_path(text):
    """A file as itself; a folder or a glob as its image files, in the order batch prediction uses."""
    path = Path(text)
    if path.is_file():
        return [path]
    found, missing = expand_inputs([text])
    files = [f for f, _ in found if is_image_name(f.name)]
    if files:
        return files
    if path.is_dir():
        raise BadInputError(f"{path}: the folder holds no images; give image files or another folder")
    if glob.has_magic(str(text)):
        raise BadInputError(f"{text}: no image file matches this pattern")
    raise BadInputError(f"{path}: {missing.get(str(text), 'no such file or folder')}")


def _inputs(images) -> tuple:
    """``([(source, path_or_array)], many)``: the inputs in order; a list, batch, folder or glob spreads."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise BadInputError("predict: the list of images is empty; give at least one image")
        items = []
        for item in images:
            items += [(str(p), p) for p in _expand_path(item)] if _is_path(item) else [(None, item)]
        return items, True
    if _is_path(images):
        return [(str(p), p) for p in _expand_path(images)], not Path(images).is_file()
    x = np.asarray(images)
    if x.ndim == 4 or (x.ndim == 3 and x.shape[-1] not in (1, 3, 4)):
        return [(None, face) for face in x], True  # an (N, H, W[, C]) batch
    return [(None, x)], False  # one (H, W) or (H, W, C) image


def predict(model, images, *, detect: bool = True, color_order: str = "BGR", equalize: bool = False,
            max_faces: int | None = None, **detect_options) -> list:
    """Predict the emotion of the faces in one image, or in each of many.

    ``images`` is one image (a file path, or an array: grey ``(H, W)``, BGR (OpenCV) or RGB
    with ``color_order="RGB"``, any size), or many: a list of paths and arrays, an
    ``(N, H, W[, C])`` batch, a glob (``"photos/*.jpg"``) or a folder. ``model`` is a RUN_DIR,
    a .keras/.onnx file, a pretrained name, a Keras model or a loaded model (load once with
    ``fercsv.load_model`` or ``fercsv.pretrained`` for speed).

    Returns, for one image, a list of :class:`FacePrediction`, one per face found (largest first),
    and for many, one such list per input, in order. With ``detect=False`` every input is taken
    as an already-cropped face, and many inputs give one :class:`FacePrediction` each. All faces
    go through the model together, in batches of ``BATCH_SIZE``.

    >>> import fercsv
    >>> faces = fercsv.synth_dataset(per_class=2, seed=0).images          # (42, 48, 48) uint8
    >>> predictions = fercsv.predict("fer2013", list(faces), detect=False)
    >>> len(predictions), predictions[0].label in fercsv.FER2013_LABELS
    (42, True)
    >>> len(fercsv.predict("fer2013", faces, detect=False)) == len(faces)   # the same as a batch
    True
    """
    loaded = load_model(model)
    items, many = _inputs(images)
    size = loaded.input_shape[0]
    found = []  # (source, boxes) per input
    crops = []
    for i, (source, image) in enumerate(items):
        where = source or (f"image {i}" if many else "image")
        try:
            order = color_order
            if _is_path(image):
                image, order = read_color(image), "BGR"
            image = np.asarray(image)
            if image.size == 0:
                raise BadImageError("empty image array")
            boxes, faces = _faces_of(image, detect=detect, size=size, equalize=equalize,
                                     color_order=order, detect_options=detect_options)
        except BadImageError as exc:
            if not many:
                raise
            raise BadImageError(f"{where}: {exc}; every input must be an image (H, W), (H, W, C) or a "
                                "file", path=source) from None
        if max_faces:
            boxes, faces = boxes[:max_faces], faces[:max_faces]
        found.append((source, boxes))
        crops += faces
    probs = np.concatenate([loaded.predict(to_input(np.stack(crops[k:k + BATCH_SIZE])))
                            for k in range(0, len(crops), BATCH_SIZE)]) if crops else np.zeros((0, 0))
    results, k = [], 0
    for source, boxes in found:
        faces = []
        for box in boxes:
            p = probs[k]
            k += 1
            best = int(np.argmax(p))
            faces.append(FacePrediction(None if box is None else tuple(int(v) for v in box),
                                        loaded.label_names[best], float(p[best]),
                                        {n: float(v) for n, v in zip(loaded.label_names, p)}, source))
        results.append(faces)
    if not many:
        return results[0]
    return [faces[0] for faces in results] if not detect else results


def annotate(image, predictions, *, color=(0, 200, 0), color_order="BGR"):
    """A copy of ``image`` (as BGR) with a box and "label 87%" drawn for each face.

    >>> import fercsv
    >>> from fercsv.data.synth import synth_photo
    >>> photo, _ = synth_photo(n_faces=2)                    # a grey 480x640 picture of two drawn faces
    >>> faces = fercsv.predict("fer2013", photo)
    >>> drawn = fercsv.annotate(photo, faces)                # cv2.imwrite("annotated.png", drawn) saves it
    >>> len(faces), drawn.shape, bool((drawn != photo[..., None]).any())
    (2, (480, 640, 3), True)
    """
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
