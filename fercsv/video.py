"""Video: extract frames, predict per frame, write an annotated video, aggregate one emotion.

Reads and writes through OpenCV's FFmpeg backend (bundled in the wheels).
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import BadInputError
from .modelio import load_model
from .prediction import annotate, predict, write_rows


def _open(path):
    if not Path(path).is_file():
        raise BadInputError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise BadInputError(f"{path}: OpenCV cannot open this video; convert it to MP4 (H.264) first")
    return cap


def iter_frames(path, *, every=1):
    """Yield ``(index, seconds, bgr_frame)`` for every ``every``-th frame."""
    cap = _open(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                yield i, i / fps, frame
            i += 1
    finally:
        cap.release()


def extract_frames(path, out_dir, *, every=1, ext="png"):
    """Write frames as ``out_dir/frame_000000.png``; returns how many were written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, _, frame in iter_frames(path, every=every):
        cv2.imwrite(str(out_dir / f"frame_{i:06d}.{ext}"), frame)
        n += 1
    if n == 0:
        raise BadInputError(f"{path}: no frames could be read")
    return n


@dataclass
class VideoResult:
    """Per-frame predictions and the video-level emotion."""

    frames: int
    frames_with_face: int
    label: str
    method: str
    scores: dict = field(default_factory=dict)
    fps: float = 0.0
    files: dict = field(default_factory=dict)

    def __str__(self):
        top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])[:3])
        return (f"video emotion: {self.label} ({self.method}; {top}); {self.frames_with_face}/{self.frames} "
                f"frames with a face; processed at {self.fps:.1f} frames/s\n" +
                "\n".join(f"  {k}: {v}" for k, v in self.files.items()))


def aggregate(frame_preds, label_names, *, method="vote", second_half=False):
    """Video-level emotion from per-frame face predictions (largest face per frame).

    ``vote``: most frequent frame label; ``mean``: highest mean probability.
    ``second_half`` uses only the later half of the frames (posed sequences
    that start neutral).
    """
    preds = [p for p in frame_preds if p is not None]
    if second_half:
        preds = preds[len(preds) // 2:]
    if not preds:
        return "", {}
    if method == "vote":
        counts = {n: 0 for n in label_names}
        for p in preds:
            counts[p.label] += 1
        scores = {n: c / len(preds) for n, c in counts.items()}
    elif method == "mean":
        scores = {n: float(np.mean([p.probabilities[n] for p in preds])) for n in label_names}
    else:
        raise BadInputError(f"aggregate must be 'vote' or 'mean', not {method!r}")
    return max(scores, key=scores.get), scores


def predict_video(model, path, out_dir, *, aggregate_by="vote", second_half=False, every=1,
                  write_video=True, **options):
    """Predict every ``every``-th frame of a video; write frames.csv/json, an annotated MP4, a summary."""
    from .faces import VIDEO_OPTIONS

    options = {**VIDEO_OPTIONS, **options}
    loaded = load_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cap = _open(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    writer = None
    rows, largest = [], []
    t0 = time.perf_counter()
    n = 0
    for i, sec, frame in iter_frames(path, every=every):
        preds = predict(loaded, frame, **options)
        largest.append(preds[0] if preds else None)
        for k, p in enumerate(preds):
            rows.append({"frame": i, "time": round(sec, 3), "face": k, "box": p.box, "label": p.label,
                         "score": round(p.score, 6), "probabilities": p.probabilities})
        if write_video:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(out_dir / "annotated.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                         fps / every, (w, h))
            writer.write(annotate(frame, preds))
        n += 1
    elapsed = time.perf_counter() - t0
    if writer is not None:
        writer.release()
    if n == 0:
        raise BadInputError(f"{path}: no frames could be read")
    label, scores = aggregate(largest, loaded.label_names, method=aggregate_by, second_half=second_half)
    csv_path, json_path = write_rows(rows, out_dir, stem="frames")
    result = VideoResult(n, sum(p is not None for p in largest), label, aggregate_by + (
        ", second half" if second_half else ""), scores, n / elapsed if elapsed else 0.0,
        {"frames": str(csv_path), "json": str(json_path)})
    if write_video:
        result.files["video"] = str(out_dir / "annotated.mp4")
    import json

    (out_dir / "summary.json").write_text(json.dumps(result.__dict__, indent=1, default=str))
    return result
