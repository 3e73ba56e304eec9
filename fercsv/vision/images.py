"""Decode image files of any common format and mode into square 8-bit grayscale faces.

OpenCV decodes (fast, releases the GIL); imageio/Pillow covers what it cannot (GIF).
"""
import os
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import BadImageError

#: File extensions read as images (lower case); other files are ignored and counted.
IMAGE_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .jpe .bmp .dib .tif .tiff .webp .gif .pgm .ppm .pbm .pnm".split())


def is_image_name(name):
    """True when ``name`` has an image extension fercsv reads.

    >>> is_image_name("a/Training_1.JPG"), is_image_name("notes.txt")
    (True, False)
    """
    base = str(name).rpartition("/")[2]
    dot = base.rfind(".")
    return dot > 0 and base[dot:].lower() in IMAGE_EXTENSIONS  # a string test: called per archive member


def to_gray(image, *, color_order="BGR"):
    """Convert an array of any dtype and channel count to 2-D uint8 grayscale.

    16-bit images are scaled to 8 bits, floats in [0, 1] are scaled by 255,
    alpha is ignored. ``color_order`` says whether 3/4-channel input is BGR
    (OpenCV) or RGB (imageio, PIL, browsers).

    >>> to_gray(np.full((2, 2, 3), 65535, np.uint16)).tolist()
    [[255, 255], [255, 255]]
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif img.dtype == np.uint16:
        img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif img.dtype.kind == "f":
        scale = 255.0 if img.size and np.nanmax(img) <= 1.0 else 1.0
        img = np.clip(np.rint(np.nan_to_num(img) * scale), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3:
        if img.shape[2] == 4:
            code = cv2.COLOR_BGRA2GRAY if color_order == "BGR" else cv2.COLOR_RGBA2GRAY
        elif img.shape[2] == 3:
            code = cv2.COLOR_BGR2GRAY if color_order == "BGR" else cv2.COLOR_RGB2GRAY
        elif img.shape[2] == 2:  # gray + alpha
            return np.ascontiguousarray(img[..., 0])
        else:
            raise BadImageError(f"cannot use an image with {img.shape[2]} channels")
        img = cv2.cvtColor(np.ascontiguousarray(img), code)
    if img.ndim != 2:
        raise BadImageError(f"cannot use an array of shape {img.shape} as an image")
    return img


def resize(gray, size):
    """Resize to ``size`` x ``size`` (area interpolation when shrinking, cubic when enlarging)."""
    h, w = gray.shape[:2]
    if (h, w) == (size, size):
        return gray
    interp = cv2.INTER_AREA if h >= size and w >= size else cv2.INTER_CUBIC
    return cv2.resize(gray, (size, size), interpolation=interp)


def decode_bytes(data, *, name="image"):
    """Decode encoded image bytes to 2-D uint8 grayscale, raising BadImageError with a reason."""
    if len(data) == 0:
        raise BadImageError(f"{name}: empty file (0 bytes)", path=name, reason="empty file")
    img = None
    if str(name)[-4:].lower() != ".gif":  # a string test: pathlib costs more than a small decode
        if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-256:]:
            raise BadImageError(f"{name}: truncated JPEG (no end-of-image marker)",
                                path=name, reason="truncated JPEG")
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        try:
            import imageio.v3 as iio

            frame = iio.imread(data, index=0, plugin="pillow")
            img = to_gray(frame, color_order="RGB")
        except Exception as exc:  # every decoder failure means the same to the user
            reason = "cannot decode image" if not str(exc) else f"cannot decode image ({str(exc).splitlines()[0][:80]})"
            raise BadImageError(f"{name}: {reason}", path=name, reason="cannot decode image") from None
    return img


def read_color(path):
    """Read an image file as a BGR (or, for formats OpenCV cannot read, grey) uint8 array."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadImageError(f"{path}: cannot read file ({exc.strerror or exc})",
                            path=str(path), reason="unreadable file") from None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    return img if img is not None else decode_bytes(data, name=str(path))


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # no newline translation on Windows


def read_file(path):
    """The bytes of a file, or BadImageError naming it (the lean read for tens of thousands of
    small images: no buffered file object).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bin"); _ = open(p, "wb").write(b"abc")
    >>> read_file(p)
    b'abc'
    """
    try:
        fd = os.open(path, _READ_FLAGS)
        try:
            data = os.read(fd, 1 << 16)
            more = os.read(fd, 1 << 20) if data else b""  # until end of file: reads may come short
            while more:
                data += more
                more = os.read(fd, 1 << 20)
        finally:
            os.close(fd)
    except OSError as exc:
        raise BadImageError(f"{path}: cannot read file ({exc.strerror or exc})",
                            path=str(path), reason="unreadable file") from None
    return data


def load_gray(path, *, size=48, equalize=False):
    """Read an image file as a ``size`` x ``size`` uint8 grayscale array.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> _ = cv2.imwrite(p, np.zeros((100, 80, 3), np.uint8))
    >>> load_gray(p).shape
    (48, 48)
    """
    return gray_from_bytes(read_file(path), name=str(path), size=size, equalize=equalize)


def gray_from_bytes(data, *, name="image", size=48, equalize=False):
    """Encoded image bytes -> ``size`` x ``size`` uint8 grayscale (what :func:`load_gray` does after reading)."""
    gray = resize(decode_bytes(data, name=name), size)
    return cv2.equalizeHist(gray) if equalize else gray


def encode_png(gray):
    """Encode a 2-D uint8 array as PNG bytes (lossless)."""
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise BadImageError("could not encode PNG")
    return buf.tobytes()
