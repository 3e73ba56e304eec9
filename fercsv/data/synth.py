"""Synthetic facial-expression data: drawn faces whose brows, eyes and mouth follow the emotion.

Position, scale, rotation, brightness, contrast and noise are jittered, so a
CNN must learn the shapes; no single pixel tells the class. Used by the demo,
the tests and the starter notebook, so everything runs with no download.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ..core import checks
from . import labels as L
from .dataset import FERDataset

# Per emotion: brow lift (+ up), brow slant (+ inner end up), eye openness,
# mouth curve (+ smile), mouth opening, mouth width, mouth tilt (asymmetry).
_SHAPES = {
    "angry":    dict(brow=-4, slant=-7, eye=0.55, curve=-1, open=0, width=0.75, tilt=0),
    "disgust":  dict(brow=-3, slant=-3, eye=0.45, curve=0, open=0, width=0.8, tilt=6),
    "fear":     dict(brow=5, slant=5, eye=1.35, curve=-2, open=5, width=1.1, tilt=0),
    "happy":    dict(brow=0, slant=0, eye=0.8, curve=8, open=1, width=1.15, tilt=0),
    "sad":      dict(brow=1, slant=6, eye=0.75, curve=-7, open=0, width=0.95, tilt=0),
    "surprise": dict(brow=8, slant=0, eye=1.4, curve=0, open=12, width=0.6, tilt=0),
    "neutral":  dict(brow=0, slant=0, eye=1.0, curve=0, open=0, width=0.9, tilt=0),
}

_CANVAS = 96


def draw_face(label, rng, *, size=48, photo=False):
    """Draw one ``size`` x ``size`` uint8 face showing ``label`` with random jitter.

    ``photo=True`` draws a calmer, upright face with dark features on light
    skin, as used for the multi-face demo photo.

    >>> draw_face("happy", np.random.default_rng(0)).shape
    (48, 48)
    """
    spec = _SHAPES[L.canonical_label(label)]
    j = lambda s: rng.normal(0, s)  # noqa: E731 - jitter helper
    c = _CANVAS
    bg0, bg1 = rng.uniform(20, 235, size=2) if not photo else rng.uniform(60, 110, size=2)
    ramp = np.linspace(0, 1, c)[None, :] if rng.random() < 0.5 else np.linspace(0, 1, c)[:, None]
    img = (bg0 + (bg1 - bg0) * ramp) * np.ones((c, c))
    if photo:
        skin, dark = float(rng.uniform(175, 215)), float(rng.uniform(25, 60))
    else:
        skin = float(np.clip(bg0 + rng.choice([-1, 1]) * rng.uniform(50, 110), 40, 230))
        dark = float(np.clip(skin - rng.uniform(70, 140), 0, 255)) if skin > 110 else float(
            np.clip(skin + rng.uniform(70, 140), 0, 255))
    cx, cy = c / 2, c / 2
    cv2.ellipse(img, (int(cx), int(cy)), (int(31 + j(1.5)), int(39 + j(1.5))), 0, 0, 360, skin, -1)
    # eyes
    eye_y = cy - 8 + j(1)
    eye_dx = 13 + j(1)
    eye_h = max(1.0, 4.2 * spec["eye"] + j(0.4))
    for side in (-1, 1):
        cv2.ellipse(img, (int(cx + side * eye_dx), int(eye_y)), (6, int(round(eye_h))), 0, 0, 360, dark, -1)
    # brows: inner end raised by slant, whole brow by lift
    brow_y = eye_y - 9 - spec["brow"] + j(1)
    for side in (-1, 1):
        inner = (cx + side * 5, brow_y - spec["slant"] + j(0.8))
        outer = (cx + side * 21, brow_y + j(0.8))
        cv2.line(img, (int(inner[0]), int(inner[1])), (int(outer[0]), int(outer[1])), dark, 3)
    # nose hint
    cv2.line(img, (int(cx), int(cy - 2)), (int(cx), int(cy + 8)), (skin + dark) / 2, 2)
    if spec["tilt"]:
        for k in (-1, 1):
            cv2.line(img, (int(cx + 4 * k), int(cy + 2)), (int(cx + 8 * k), int(cy - 1)), dark, 1)
    # mouth: a parabola (curve) or an open ellipse
    mouth_y = cy + 20 + j(1)
    half = 13 * spec["width"] + j(0.8)
    curve = spec["curve"] + j(0.8)
    tilt = spec["tilt"] * rng.choice([-1, 1])
    xs = np.linspace(-half, half, 24)
    ys = mouth_y - curve * (xs / half) ** 2 + curve / 2 + tilt * (xs / half) / 2
    pts = np.stack([cx + xs, ys], axis=1).round().astype(np.int32)
    opening = spec["open"] + abs(j(0.6)) if spec["open"] else 0
    if opening > 2:
        cv2.ellipse(img, (int(cx), int(mouth_y)), (int(half), int(opening / 1.6)), 0, 0, 360, dark, -1)
    else:
        cv2.polylines(img, [pts], False, dark, 3)
    # global jitter: rotation, scale, shift
    angle = rng.uniform(-12, 12) if not photo else rng.uniform(-3, 3)
    scale = rng.uniform(0.85, 1.1)
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[:, 2] += rng.uniform(-5, 5, size=2)
    img = cv2.warpAffine(img.astype(np.float32), m, (c, c), borderMode=cv2.BORDER_REFLECT)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if not photo:
        contrast = rng.uniform(0.6, 1.3)
        img = (img - img.mean()) * contrast + img.mean() + rng.uniform(-30, 30)
    img += rng.normal(0, rng.uniform(2, 9) if not photo else 2.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _check_synth(func, per_class, seed, size):
    checks.integer(func, "per_class", per_class, minimum=1)
    checks.seed(func, seed)
    checks.integer(func, "size", size, minimum=8, maximum=1024)


def split_sizes(per_class):
    """Images per class in train, val and test for ``per_class`` training images."""
    extra = max(2, int(math.ceil(per_class * 0.2)))
    return {"train": per_class, "val": extra, "test": extra}


def synth_dataset(*, per_class: int = 100, seed: int = 0, size: int = 48, labels=L.FER2013_LABELS) -> FERDataset:
    """An in-memory :class:`FERDataset` of synthetic faces (Training, PublicTest, PrivateTest).

    >>> ds = synth_dataset(per_class=5)
    >>> len(ds), sorted(set(ds.usage))
    (63, ['PrivateTest', 'PublicTest', 'Training'])
    """
    _check_synth("synth_dataset", per_class, seed, size)
    rng = np.random.default_rng(seed)
    images, codes, usage = [], [], []
    for split, n in split_sizes(per_class).items():
        for label in labels:
            for _ in range(n):
                images.append(draw_face(label, rng, size=size))
                codes.append(L.known_code(label))
                usage.append(L.usage_from_folder(split))
    return FERDataset(np.stack(images), np.array(codes, np.int64), np.array(usage, dtype=object),
                      list(L.FER2013_LABELS), source="synthetic")


def synth(outdir, *, per_class: int = 100, seed: int = 0, size: int = 48) -> dict:
    """Write synthetic faces as ``outdir/<train|val|test>/<label>/<label>_<i>.png``.

    Returns the number of images written per split.

    >>> import tempfile
    >>> synth(tempfile.mkdtemp(), per_class=3)
    {'train': 21, 'val': 14, 'test': 14}
    """
    from ..vision.images import encode_png

    _check_synth("synth", per_class, seed, size)
    rng = np.random.default_rng(seed)
    outdir = Path(outdir)
    written = {}
    for split, n in split_sizes(per_class).items():
        for label in L.FER2013_LABELS:
            folder = outdir / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (folder / f"{label}_{i:05d}.png").write_bytes(encode_png(draw_face(label, rng, size=size)))
        written[split] = n * len(L.FER2013_LABELS)
    return written


def synth_photo(*, n_faces=3, seed=0, size=(480, 640), face_px=150, labels=None, check=None):
    """A grayscale "photo" with several synthetic faces side by side, and their true boxes and labels.

    ``check(image, box)`` may reject a face (e.g. one a detector misses): it is
    redrawn with new jitter, up to 50 times.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    photo = np.clip(rng.normal(150, 6, size) + np.linspace(-20, 20, w)[None, :], 0, 255).astype(np.uint8)
    labels = list(labels or rng.choice(L.FER2013_LABELS, n_faces, replace=False))
    truth = []
    step = w // len(labels)
    for i, label in enumerate(labels):
        x = i * step + (step - face_px) // 2
        y = (h - face_px) // 2 + int(rng.integers(-30, 30))
        for _ in range(50):
            face = cv2.resize(draw_face(label, rng, size=48, photo=True), (face_px, face_px),
                              interpolation=cv2.INTER_CUBIC)
            trial = photo.copy()
            trial[y:y + face_px, x:x + face_px] = face
            if check is None or check(trial, (x, y, face_px, face_px)):
                break
        photo = trial
        truth.append(((x, y, face_px, face_px), str(label)))
    return photo, truth
