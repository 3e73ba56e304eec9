"""Batch prediction, the twin of ``fercsv predict``: files, folders, globs and videos.

Carries on past unreadable files and writes each result as it is made, into a
folder (annotated copies, predictions.csv/json) or one face table (engines).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2

from ..core.atomic import atomic_path
from ..core.errors import BadInputError, FercsvError, first_line
from ..runtime.loading import load_model
from ..vision.images import read_color
from .inputs import VIDEO_EXTENSIONS, BatchReport, cli_names, input_files
from .predict import annotate, predict

#: Video options :func:`predict_paths` passes to ``fercsv.serve.video.predict_video``.
VIDEO_OPTION_NAMES = ("aggregate_by", "second_half", "every")

#: Options of :func:`predict_paths` for the face table only, and for the folder output only.
TABLE_ONLY_OPTIONS = frozenset({"workers", "address", "batch_size"})
FOLDER_ONLY_OPTIONS = frozenset({"aggregate_by", "second_half", "plot"})


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
    row with an empty label so nothing silently disappears). Unreadable files
    are skipped and listed; see :func:`predict_paths` for folders, globs and videos.
    """
    report = predict_paths(list(paths), model=model, out_dir=out_dir, detect=detect, out=None, **options)
    return report.rows


class _RowWriter:
    """predictions.csv opened for appending; each file's rows are written and flushed at once."""

    def __init__(self, path, label_names, *, resume):
        self.path = Path(path)
        self.columns = ["file", "face", "box", "label", "score", "annotated"] + [f"p_{n}" for n in label_names]
        self.done = set()
        if resume and self.path.is_file():
            self._trim_partial_line()
            with open(self.path, newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is not None and header != self.columns:
                    raise BadInputError(f"{self.path}: was written for other labels ({', '.join(header[6:])}); "
                                        "resume with the same model, or choose another --out")
                self.done = {row[0] for row in reader if len(row) == len(self.columns)}
        elif self.path.exists():
            self.path.unlink()
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self.fh = open(self.path, "a", newline="")
        self.writer = csv.writer(self.fh)
        if fresh:
            self.writer.writerow(self.columns)
            self.fh.flush()

    def _trim_partial_line(self):
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[:data.rfind(b"\n") + 1])

    def write(self, rows):
        flat = [[r["file"], r["face"], "" if r["box"] is None else json.dumps(list(r["box"])), r["label"],
                 r["score"], r["annotated"]] + [round(v, 6) for v in r.get("probabilities", {}).values()]
                for r in rows]
        flat = [f + [""] * (len(self.columns) - len(f)) for f in flat]
        self.writer.writerows(flat)
        self.fh.flush()

    def close(self):
        self.fh.close()


def _unique_name(used, rel, suffix):
    base = rel.with_name(rel.stem + suffix)
    candidate, k = base, 2
    while candidate in used:
        candidate = base.with_name(f"{base.stem}_{k}{base.suffix}")
        k += 1
    used.add(candidate)
    return candidate


def _predict_one_image(loaded, path, target, out_dir, options):
    img = read_color(path)
    preds = predict(loaded, img, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        ok, buf = cv2.imencode(".png", annotate(img, preds))
        tmp.write_bytes(buf.tobytes())
    common = {"file": str(path), "annotated": str(target)}
    if not preds:
        return preds, [{**common, "face": -1, "box": None, "label": "", "score": 0.0}]
    return preds, [{**common, "face": i, "box": p.box, "label": p.label, "score": round(p.score, 6),
                    "probabilities": p.probabilities} for i, p in enumerate(preds)]


def predict_paths(inputs: list, *, model=None, out_dir: str | Path | None = None, detect: bool = True,
                  equalize: bool = False, resume: bool = False, engine: str = "local", shard=None,
                  out=print, **options) -> BatchReport:
    """Predict every image and video among ``inputs`` (files, folders walked recursively, globs).

    When ``out_dir`` ends in .parquet or .csv, ``engine`` is not ``"local"`` or a ``shard`` is given,
    the output is one face table (``fercsv.predict_table``, which also takes ``workers``,
    ``address`` and ``batch_size``; default ``predictions.parquet``, ``predictions-K-of-N.parquet``
    for a shard): one row per face, the same from every engine. ``shard="K/N"`` keeps the K-th of
    N contiguous blocks of the inputs; ``fercsv concat`` joins the shards' tables into a single run's.

    Otherwise (default ``predictions``) it writes into the folder ``out_dir``: an annotated PNG per
    image mirroring the input tree (``photos/a/x.jpg`` -> ``out_dir/photos/a/x_pred.png``, made
    unique when names collide), a folder per video (``fercsv.predict_video``), and
    ``predictions.csv`` with one row per face, appended and flushed as each file is
    done (``predictions.json`` at the end). Unreadable files are skipped and listed;
    ``resume=True`` skips files already in ``predictions.csv``. ``model`` as for
    :func:`fercsv.load_model` (None: the shipped pretrained model). Video ``options``
    (``aggregate_by``, ``second_half``, ``every``...) go to ``predict_video``.
    Returns a :class:`BatchReport`.

    >>> import cv2, fercsv, os, tempfile
    >>> from fercsv.data.synth import synth_photo
    >>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/photos")
    >>> _ = cv2.imwrite(f"{d}/photos/two.png", synth_photo(n_faces=2)[0])    # a photo of two drawn faces
    >>> _ = open(f"{d}/photos/broken.jpg", "wb").write(b"not a JPEG")
    >>> report = fercsv.predict_paths([f"{d}/photos"], model="fer2013", out_dir=f"{d}/out", out=None)
    >>> report.predicted, report.faces, list(report.skipped.values())        # doctest: +ELLIPSIS
    (1, 2, ['...broken.jpg: cannot decode image (...)'])
    >>> sorted(os.listdir(f"{d}/out")), os.listdir(f"{d}/out/photos")
    (['photos', 'predictions.csv', 'predictions.json'], ['two_pred.png'])
    """
    from ..core.checks import choice
    from .engines import ENGINES, TABLE_FORMATS, predict_table
    from ..data.shards import parse_shard

    choice("predict", "engine", engine, ENGINES)
    shard = parse_shard(shard, func="predict")
    if engine != "local" or shard or (out_dir is not None and Path(out_dir).suffix.lower() in TABLE_FORMATS):
        why = f"engine {engine!r}" if engine != "local" else "a shard (fercsv concat joins their tables)"
        if out_dir is not None and Path(out_dir).suffix.lower() not in TABLE_FORMATS:
            raise BadInputError(f"predict: {why} writes one face table, not a folder; give --out "
                                f"{Path(out_dir).stem}.parquet (or .csv)")
        _check_folder_only(options)
        table = out_dir or ("predictions.parquet" if shard is None else
                            f"predictions-{shard.index}-of-{shard.count}.parquet")
        return predict_table(inputs, table, model=model, engine=engine, shard=shard, detect=detect,
                             equalize=equalize, resume=resume, out=out, **options)
    if set(options) & TABLE_ONLY_OPTIONS:
        raise BadInputError(f"predict: {cli_names(set(options) & TABLE_ONLY_OPTIONS)} only apply to "
                            "engine='ray' (CLI --engine ray)")
    video_options = options
    say = out or (lambda *_: None)
    out_dir = Path("predictions" if out_dir is None else out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir}: exists and is not a folder; choose another --out")
    files, missing = input_files(inputs)
    used = set()
    files = [(path, out_dir / _unique_name(used, rel, "" if path.suffix.lower() in VIDEO_EXTENSIONS
                                           else "_pred.png")) for path, rel in files]
    videos = [f for f in files if f[0].suffix.lower() in VIDEO_EXTENSIONS]
    if video_options and not videos:
        raise BadInputError(f"predict: {cli_names(video_options)} only apply to videos, and none of the inputs "
                            "is a video; leave them out")
    if videos:
        from .video import check_options

        check_options(**video_options)
    loaded = load_model(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = BatchReport(str(out_dir), skipped=dict(missing))
    options = {"detect": detect, "equalize": equalize}
    writer = _RowWriter(out_dir / "predictions.csv", loaded.label_names, resume=resume)
    try:
        for path, target in files:
            is_video = path.suffix.lower() in VIDEO_EXTENSIONS
            if str(path) in writer.done:
                report.resumed += 1
                continue
            try:
                if is_video:
                    from .video import predict_video

                    result = predict_video(loaded, path, target, **options, **video_options)
                    rows = [{"file": str(path), "face": -1, "box": None, "label": result.label,
                             "score": round(result.scores.get(result.label, 0.0), 6), "annotated": str(target),
                             "probabilities": {n: result.scores.get(n, 0.0) for n in loaded.label_names}}]
                    report.videos[str(path)] = result.label
                    say(f"{path}: {result}")
                else:
                    preds, rows = _predict_one_image(loaded, path, target, out_dir, options)
                    report.faces += len(preds)
                    if not preds:
                        report.no_face.append(str(path))
                    say(f"{path}: " + ("no face found" if not preds else "; ".join(
                        f"face {i} {p.label} {p.score:.0%} at {p.box}" for i, p in enumerate(preds))))
            except (FercsvError, cv2.error) as exc:
                report.skipped[str(path)] = first_line(exc)
                say(f"{path}: skipped ({first_line(exc)})")
                continue
            writer.write(rows)
            report.rows += rows
            report.predicted += 1
    finally:
        writer.close()
    report.files["csv"] = str(writer.path)
    report.files["json"] = str(_write_json_from_csv(writer.path, loaded.label_names))
    return report


def _check_folder_only(options):
    if set(options) & FOLDER_ONLY_OPTIONS:
        raise BadInputError(f"predict: {cli_names(set(options) & FOLDER_ONLY_OPTIONS)} only apply to the "
                            "folder output (one summary per video); "
                            "a face table keeps every frame: leave them out, or give --out FOLDER")


def _write_json_from_csv(csv_path, label_names):
    rows = []
    with open(csv_path, newline="") as fh:
        for r in csv.DictReader(fh):
            row = {k: v for k, v in r.items() if not k.startswith("p_")}
            row["face"] = int(row["face"])
            row["score"] = float(row["score"])
            row["box"] = json.loads(row["box"]) if row["box"] else None
            probs = {n: float(r[f"p_{n}"]) for n in label_names if r.get(f"p_{n}")}
            if probs:
                row["probabilities"] = probs
            rows.append(row)
    path = Path(csv_path).with_suffix(".json")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rows, indent=1))
    return path
