"""Video: read frames in a time window, predict and track faces, write a per-frame timeline,
an annotated video, the emotion-over-time plot and one emotion per person.

Frames stream through (memory stays flat on long videos); every output is written under a
temporary name and appears under its own name only when the whole video went through.
Reads and writes through OpenCV's FFmpeg backend (bundled in the wheels).

>>> result = fercsv.predict_video("run", "clip.mp4", "out", start=2, end=10)  # doctest: +SKIP
>>> result.people[0]["label"]                                                # doctest: +SKIP
'happy'
"""
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2

from ..core.atomic import atomic_path
from ..core.errors import BadInputError, require
from ..vision.frames import check_window, window_text, iter_frames, video_info
from ..vision.tracking import IoUTracker
from .timeline import AGGREGATIONS, TableWriter, aggregate_probabilities, check_aggregation  # noqa: F401

#: Annotated video containers: extension -> FourCC. mp4 plays in desktop players;
#: webm (VP8) plays in every browser (the app uses it).
VIDEO_FORMATS = {"mp4": "mp4v", "webm": "VP80"}


def check_options(*, every=1, start=None, end=None, aggregate_by="vote", video_format="mp4", **_ignored):
    """Raise a one-line BadInputError for a bad video option (call before writing anything).

    >>> check_options(every=2, start=1.5, end=3)
    >>> check_options(start=3, end=1)
    Traceback (most recent call last):
    fercsv.BadInputError: end (1 s) must come after start (3 s)
    """
    check_window(every=every, start=start, end=end)
    check_aggregation(aggregate_by)
    if video_format not in VIDEO_FORMATS:
        raise BadInputError(f"video_format must be one of {', '.join(VIDEO_FORMATS)}, not {video_format!r}")



@dataclass
class VideoResult:
    """Per-frame predictions summarized: the video-level emotion and one emotion per person."""

    frames: int
    frames_with_face: int
    label: str
    method: str
    scores: dict = field(default_factory=dict)
    fps: float = 0.0
    files: dict = field(default_factory=dict)
    people: list = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0

    def __str__(self):
        top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])[:3])
        people = "".join(f"\n  person {p['track']}: {p['label']} ({p['frames']} frames, "
                         f"{p['start']:.1f}-{p['end']:.1f} s)" for p in self.people[:10])
        return (f"video emotion: {self.label or 'none (no face found)'} ({self.method}; {top}); "
                f"{self.frames_with_face}/{self.frames} frames with a face from {self.start:.1f} to "
                f"{self.end:.1f} s; processed at {self.fps:.1f} frames/s" + people + "\n" +
                "\n".join(f"  {k}: {v}" for k, v in self.files.items()))

    def to_dict(self) -> dict:
        return asdict(self)


def aggregate(frame_preds, label_names, *, method="vote", second_half=False):
    """Video-level emotion from per-frame face predictions (None for a frame without a face).

    ``vote``: most frequent frame label; ``mean``: highest mean probability.
    ``second_half`` uses only the later half of the frames (posed sequences
    that start neutral).
    """
    preds = [p for p in frame_preds if p is not None]
    probs = [[p.probabilities.get(n, 0.0) for n in label_names] for p in preds]
    return aggregate_probabilities(probs, label_names, method=method, second_half=second_half)


class _Outputs:
    """The output files of one video, written under temporary names and renamed together."""

    def __init__(self, out_dir, names):
        self.out_dir = Path(out_dir)
        self.final = {k: self.out_dir / v for k, v in names.items()}
        tag = f".{os.getpid()}.{id(self):x}"
        # The temporary name keeps the real extension: OpenCV and matplotlib choose the format by it.
        self.tmp = {k: p.with_name(f".{p.stem}{tag}.part{p.suffix}") for k, p in self.final.items()}

    def commit(self):
        for k, tmp in self.tmp.items():
            if tmp.exists():
                os.replace(tmp, self.final[k])
        return {k: str(p) for k, p in self.final.items() if p.exists()}

    def discard(self):
        for tmp in self.tmp.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _progress(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, file=sys.stderr, leave=False,
                desc="video")


def predict_video(model, path, out_dir, *, aggregate_by="vote", second_half=False, every=1,
                  start=None, end=None, write_video=True, video_format="mp4", plot=None,
                  progress=True, min_track_frames=3, **options):
    """Predict the faces of every ``every``-th frame between ``start`` and ``end`` seconds.

    Writes to ``out_dir``: ``frames.csv`` (one row per face: frame, time in seconds,
    face index, track id, box, label, probabilities), ``annotated.mp4`` (or ``.webm``),
    ``timeline.png`` (emotion over time per person) and ``summary.json``. Faces are
    tracked across frames, so each person (``result.people``) gets one emotion;
    people seen on fewer than ``min_track_frames`` frames are left out of that list.
    The video-level ``label`` aggregates the largest face of each frame. ``plot=None``
    draws the timeline when matplotlib is installed (``True`` requires it).
    ``options`` go to :func:`fercsv.predict` (``detect``, ``equalize``...).

    A one-second clip of one drawn face, with the shipped model:

    >>> import cv2, fercsv, os, tempfile
    >>> from fercsv.data.synth import synth_photo
    >>> d = tempfile.mkdtemp()
    >>> photo = cv2.cvtColor(synth_photo(n_faces=1, size=(240, 320), face_px=120)[0], cv2.COLOR_GRAY2BGR)
    >>> clip = cv2.VideoWriter(f"{d}/clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    >>> for _ in range(10): clip.write(photo)
    >>> clip.release()
    >>> result = fercsv.predict_video("fer2013", f"{d}/clip.mp4", f"{d}/out", plot=False, progress=False)
    >>> result.frames, result.frames_with_face, len(result.people), result.label in fercsv.FER2013_LABELS
    (10, 10, 1, True)
    >>> sorted(os.listdir(f"{d}/out"))
    ['annotated.mp4', 'frames.csv', 'summary.json']
    """
    from ..vision.faces import VIDEO_OPTIONS
    from ..runtime.loading import load_model
    from .predict import annotate, predict

    check_options(every=every, start=start, end=end, aggregate_by=aggregate_by, video_format=video_format)
    if plot is None:
        import importlib.util

        plot = importlib.util.find_spec("matplotlib") is not None
    elif plot:
        require("matplotlib", extra="app", feature="the emotion-over-time plot (plot=False skips it)")
    info = video_info(path)
    if start and info.frames and start >= info.duration:
        raise BadInputError(f"{path}: start {start} s is past the end of the video ({info.duration:.2f} s)")
    loaded = load_model(model)
    options = {**VIDEO_OPTIONS, **options}
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir}: exists and is not a folder; give an output folder")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {"frames": "frames.csv"}
    if write_video:
        names["video"] = f"annotated.{video_format}"
    if plot:
        names["timeline"] = "timeline.png"
    names["summary"] = "summary.json"  # renamed last: its presence means the rest is complete
    outputs = _Outputs(out_dir, names)
    first = math.ceil((start or 0) * info.fps - 1e-6)
    last = min(info.frames - 1, math.floor(end * info.fps + 1e-6)) if end is not None else info.frames - 1
    total = max(0, (last - first) // every + 1) if info.frames else None
    table = writer = None
    try:
        table = TableWriter(outputs.tmp["frames"], loaded.label_names)
        tracker = IoUTracker()
        with_face = 0
        n, t0, span = 0, time.perf_counter(), [None, None]
        with _progress(total, progress) as bar:
            for i, sec, frame in iter_frames(path, every=every, start=start, end=end):
                preds = predict(loaded, frame, **options)
                tracks = tracker.update([p.box for p in preds]) if preds and preds[0].box else \
                    list(range(len(preds)))
                table.write(i, sec, preds, tracks)
                with_face += bool(preds)
                if write_video:
                    if writer is None:
                        h, w = frame.shape[:2]
                        writer = cv2.VideoWriter(str(outputs.tmp["video"]),
                                                 cv2.VideoWriter_fourcc(*VIDEO_FORMATS[video_format]),
                                                 info.fps / every, (w, h))
                        if not writer.isOpened():
                            raise BadInputError(f"{outputs.final['video']}: OpenCV cannot write "
                                                f"{video_format} video here; try video_format='mp4'")
                    writer.write(annotate(frame, preds))
                span = [sec if span[0] is None else span[0], sec]
                n += 1
                bar.update(1)
        elapsed = time.perf_counter() - t0
        table.close()
        if writer is not None:
            writer.release()
            writer = None
        if n == 0:
            raise BadInputError(f"{path}: no frames could be read" + window_text(start, end))
        from .timeline import plot_timeline, read_table, summarize

        rows = read_table(outputs.tmp["frames"])
        # Video-level emotion: the largest face of each frame (face 0), read back like the rest.
        first_faces = rows[rows["face"] == 0][[f"p_{n}" for n in loaded.label_names]].to_numpy()
        label, scores = aggregate_probabilities(first_faces, loaded.label_names, method=aggregate_by,
                                                second_half=second_half)
        people = summarize(rows, method=aggregate_by, second_half=second_half, min_frames=min_track_frames)
        if plot:
            plot_timeline(rows, outputs.tmp["timeline"], min_frames=min_track_frames,
                          title=f"{Path(path).name}: emotion over time")
        result = VideoResult(n, with_face, label,
                             aggregate_by + (", second half" if second_half else ""), scores,
                             n / elapsed if elapsed else 0.0, {}, people, span[0], span[1])
        result.files = {k: str(p) for k, p in outputs.final.items()}
        with open(outputs.tmp["summary"], "w", encoding="utf-8") as fh:
            json.dump(result.to_dict(), fh, indent=1)
        outputs.commit()
        return result
    except BaseException:
        if table is not None:
            table.close()
        outputs.discard()
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if nothing else landed there
        raise
    finally:
        if writer is not None:
            writer.release()
