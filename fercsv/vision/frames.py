"""Video frames: what a container holds, and its frames in a time window, one at a time.

Reads through OpenCV's FFmpeg backend (bundled in the wheels); memory stays flat on
long videos. ``fercsv frames`` is :func:`extract_frames`.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..core.atomic import atomic_path
from ..core.errors import BadInputError


@dataclass
class VideoInfo:
    """What the container says: frames per second, frame count, size, duration in seconds."""

    fps: float
    frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def _open(path):
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: the file is empty (0 bytes); give a video file such as MP4 or WebM")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise BadInputError(f"{path}: not a video OpenCV can read (corrupt, or not a video at all); "
                            "convert it to MP4 (H.264) or WebM first")
    return cap


def video_info(path) -> VideoInfo:
    """Frames per second, frame count and size of a video file (30 fps when the file does not say)."""
    cap = _open(path)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        return VideoInfo(fps if fps and math.isfinite(fps) and fps > 0 else 30.0,
                         max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
                         int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def check_window(*, every, start, end):
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise BadInputError(f"every must be a whole number >= 1 (use every N-th frame), not {every!r}")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value)
                                  or value < 0):
            raise BadInputError(f"{name} must be a time in seconds >= 0, not {value!r}")
    if start is not None and end is not None and end <= start:
        raise BadInputError(f"end ({end} s) must come after start ({start} s)")


def iter_frames(path, *, every=1, start=None, end=None):
    """Yield ``(index, seconds, bgr_frame)`` for every ``every``-th frame between ``start`` and
    ``end`` seconds (the whole video by default). Frames are read one at a time.
    """
    check_window(every=every, start=start, end=end)
    fps = video_info(path).fps
    cap = _open(path)
    i = 0
    try:
        if start:
            i = math.ceil(start * fps - 1e-6)
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        first = i
        while True:
            if end is not None and i / fps > end + 1e-9:
                break
            if (i - first) % every:
                if not cap.grab():
                    break
            else:
                ok, frame = cap.read()
                if not ok:
                    break
                yield i, i / fps, frame
            i += 1
    finally:
        cap.release()


def extract_frames(path, out_dir, *, every=1, start=None, end=None, ext="png"):
    """Write frames as ``out_dir/frame_000000.png``; returns how many were written.

    >>> import cv2, numpy as np, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> clip = cv2.VideoWriter(f"{d}/clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    >>> for i in range(10): clip.write(np.full((48, 64, 3), 20 * i, np.uint8))    # one second at 10 fps
    >>> clip.release()
    >>> extract_frames(f"{d}/clip.mp4", f"{d}/frames", every=3)
    4
    >>> sorted(os.listdir(f"{d}/frames"))
    ['frame_000000.png', 'frame_000003.png', 'frame_000006.png', 'frame_000009.png']
    >>> extract_frames(f"{d}/clip.mp4", f"{d}/later", start=0.5, end=0.7)         # frames 5 to 7
    3
    """
    check_window(every=every, start=start, end=end)
    _open(path).release()
    out_dir = Path(out_dir)
    n = 0
    for i, _, frame in iter_frames(path, every=every, start=start, end=end):
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_dir / f"frame_{i:06d}.{ext}") as tmp:
            ok, buf = cv2.imencode(f".{ext}", frame)
            tmp.write_bytes(buf.tobytes())
        n += 1
    if n == 0:
        raise BadInputError(f"{path}: no frames could be read" + window_text(start, end))
    return n


def window_text(start, end):
    if start is None and end is None:
        return "; the file may be corrupt or truncated"
    return f" between {start or 0} s and {'the end' if end is None else f'{end} s'}"
