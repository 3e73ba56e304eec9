"""Batch prediction into one face table (Parquet or CSV), in this process or on Ray Data.

Every engine in :data:`ENGINES` predicts each input with the same function
(:func:`predict_source`); the driver writes the results in input order, so the table is
the same, byte for byte, whichever engine made it, and shards joined by ``fercsv concat``
equal a single run. Finished inputs are journaled as they come, so a killed job resumes.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.atomic import atomic_path
from ..core.errors import BadInputError, FercsvError, first_line, require

#: Where the predictions are made: name -> how.
ENGINES = {
    "local": "in this process, one input after another",
    "ray": "on Ray Data: a pool of workers (a local cluster, or a running one with address=...) "
           "that load the ONNX model once each",
}

#: Table files by suffix: the face table is written as Parquet or CSV.
TABLE_FORMATS = {".parquet": "Parquet (pyarrow, the scale extra)", ".csv": "CSV"}

#: Columns before the probabilities, with their Parquet types. ``face`` counts faces in a
#: frame, largest first; -1 marks an input in which no face was found (its box is empty).
COLUMNS = {"source": "string", "frame": "int64", "time": "double", "face": "int32",
           "x": "int32", "y": "int32", "w": "int32", "h": "int32", "label": "string", "score": "float32"}

#: Inputs per Ray task when not given: small enough to spread work and to lose little when a
#: worker dies (its task is retried), big enough that the per-task overhead stays small.
RAY_BATCH_SIZE = 4


def table_columns(label_names) -> dict:
    """``{column: Parquet type}`` of the face table of a model with these labels.

    >>> list(table_columns(["sad", "happy"]))[-3:]
    ['score', 'p_sad', 'p_happy']
    """
    return {**COLUMNS, **{f"p_{n}": "float32" for n in label_names}}


@dataclass(frozen=True)
class Work:
    """What a worker needs to predict one input: the model (``pretrained:NAME`` or an absolute file path)
    and the prediction options."""

    model: str
    label_names: tuple
    detect: bool = True
    equalize: bool = False
    every: int = 1
    start: float | None = None
    end: float | None = None


@dataclass
class SourceResult:
    """The rows of one input (``index``: its place among all inputs), or why it was skipped.

    A row is ``[frame, time, face, x, y, w, h, label, score, p...]``.
    """

    index: int
    source: str
    rows: list = field(default_factory=list)
    skipped: str | None = None
    video: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def _face_rows(frame, seconds, predictions):
    # Largest face first, equal sizes top-left first: the order never depends on the order in which
    # the detector's threads found the faces.
    if predictions and predictions[0].box is not None:
        predictions = sorted(predictions, key=lambda p: (-p.box[2] * p.box[3], p.box[1], p.box[0]))
    rows = []
    for k, p in enumerate(predictions):
        box = list(p.box) if p.box is not None else [None] * 4
        rows.append([frame, seconds, k, *box, p.label, float(p.score), *map(float, p.probabilities.values())])
    return rows


def predict_source(loaded, index: int, source: str, work: Work, *, path: str | None = None) -> SourceResult:
    """Predict every face of one image, or of the chosen frames of one video (the work of any engine).

    ``source`` is the input as the table names it; ``path`` where to read it (default: ``source``).
    An input without any face gives one row with face -1; an unreadable one gives no rows and
    the reason in ``skipped``.
    """
    import cv2

    from ..vision.images import read_color
    from .inputs import VIDEO_EXTENSIONS
    from .predict import predict

    options = {"detect": work.detect, "equalize": work.equalize}
    path = path or source
    video = Path(path).suffix.lower() in VIDEO_EXTENSIONS
    try:
        if video:
            from ..vision.faces import VIDEO_OPTIONS
            from ..vision.frames import iter_frames

            rows, frames = [], 0
            for i, sec, image in iter_frames(path, every=work.every, start=work.start, end=work.end):
                rows += _face_rows(i, round(sec, 6), predict(loaded, image, **VIDEO_OPTIONS, **options))
                frames += 1
            if not frames:
                raise BadInputError(f"{source}: no frames could be read in the chosen time window")
        else:
            rows = _face_rows(0, 0.0, predict(loaded, read_color(path), **options))
    except (FercsvError, cv2.error) as exc:
        reason = first_line(exc).removeprefix(f"{path}: ")  # the report names the input already
        return SourceResult(index, str(source), skipped=reason, video=video)
    if not rows:
        rows = [[0, 0.0, -1, None, None, None, None, None, None] + [None] * len(loaded.label_names)]
    return SourceResult(index, str(source), rows, video=video)


def describe(result: SourceResult) -> str:
    """One line about one input, printed as it is done."""
    if result.skipped:
        return f"{result.source}: skipped ({result.skipped})"
    faces = [r for r in result.rows if r[2] >= 0]
    if not faces:
        return f"{result.source}: no face found"
    if result.video:
        return f"{result.source}: {len(faces)} faces on {len({r[0] for r in faces})} frames"
    return f"{result.source}: " + "; ".join(f"face {r[2]} {r[7]} {r[8]:.0%} at {tuple(r[3:7])}" for r in faces)


# ---- engines: each yields the SourceResult of every (index, source), in any order ----------------

def _local_results(loaded, todo, work, **_):
    for index, source in todo:
        yield predict_source(loaded, index, source, work)


class _RayPredictor:
    """A Ray Data worker: loads the ONNX model once, then predicts batches of inputs."""

    def __init__(self, work: Work):
        from ..runtime.loading import load_model

        self.work = work
        self.model = load_model(work.model, label_names=list(work.label_names))

    def __call__(self, batch):
        import numpy as np

        results = [predict_source(self.model, int(i), str(s), self.work, path=str(p))
                   for i, s, p in zip(batch["index"], batch["source"], batch["path"])]
        return {"index": np.array([r.index for r in results], np.int64),
                "result": np.array([r.to_json() for r in results], dtype=object)}


def _ray():
    require("ray.data", extra="scale", feature="predict --engine ray")
    import ray

    return ray


def _ray_results(loaded, todo, work, *, workers=None, address=None, batch_size=RAY_BATCH_SIZE):
    ray = _ray()
    import ray.data

    started = not ray.is_initialized()
    environ = dict(os.environ)  # ray.init sets variables (RAY_AUTH_MODE...) that would outlive its cluster
    if started:
        try:
            ray.init(address=address, num_cpus=None if address else (workers or os.cpu_count() or 1),
                     include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            _restore_environ(environ)
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            raise FercsvError(f"cannot start or reach {where} ({first_line(exc, 160)}); "
                              + ("check --address (ray status shows it on the head node), or leave it out "
                                 "to start a local cluster" if address else "see 'ray status'")) from None
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its start-up notes would bury the line printed per input
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results come in input order: the buffer stays small
        ctx.enable_progress_bars = False
        if hasattr(ctx, "max_consecutive_actor_init_deaths"):  # a worker lost while loading the model is
            ctx.max_consecutive_actor_init_deaths = max(ctx.max_consecutive_actor_init_deaths, 3)  # replaced
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # workers of a running cluster start elsewhere: they read absolute paths (on storage all nodes share)
        items = [{"index": i, "source": str(s), "path": os.path.abspath(s)} for i, s in todo]
        ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch_size)))
        ds = ds.map_batches(_RayPredictor, fn_constructor_kwargs={"work": work}, batch_size=batch_size,
                            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for text in batch["result"]:
                yield SourceResult.from_json(text)
    except Exception as exc:
        if isinstance(exc, FercsvError) or not type(exc).__module__.startswith("ray"):
            raise
        raise FercsvError(f"the ray engine failed ({first_line(exc)}); rerun with --resume "
                          "to carry on from the inputs already done") from None
    finally:
        quiet.setLevel(level)
        if started:
            ray.shutdown()
            _restore_environ(environ)


def _restore_environ(saved):
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update({k: v for k, v in saved.items() if os.environ.get(k) != v})


_RUNNERS = {"local": _local_results, "ray": _ray_results}


def _in_order(results, todo):
    """``results`` in the order of ``todo``, each index once; a missing one is an error, not a gap."""
    wanted = [i for i, _ in todo]
    place = {i: k for k, i in enumerate(wanted)}
    pending, next_k = {}, 0
    for r in results:
        k = place.get(r.index)
        if k is None or k < next_k or k in pending:
            continue  # a retried task's second answer: already written once
        pending[k] = r
        while next_k in pending:
            yield pending.pop(next_k)
            next_k += 1
    if next_k < len(wanted):
        raise FercsvError(f"no result came back for input {todo[next_k][1]} ({len(wanted) - next_k} inputs "
                          "missing); rerun with --resume to predict the rest")


# ---- journal: finished inputs, one JSON line each, so a killed job resumes ------------------------

def journal_path(table) -> Path:
    """The hidden file next to ``table`` that lists the inputs done so far (gone once the table is written).

    >>> journal_path("out/faces.parquet").as_posix()
    'out/.faces.parquet.journal'
    """
    table = Path(table)
    return table.with_name(f".{table.name}.journal")


class _Journal:
    def __init__(self, path, header: dict, *, resume: bool):
        self.path = Path(path)
        self.done = set()
        if resume and self.path.is_file():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):  # the line being written when the job was killed
                self.path.write_bytes(data[:data.rfind(b"\n") + 1])
            with open(self.path, encoding="utf-8") as fh:
                first = fh.readline()
                if first and json.loads(first) != header:
                    raise BadInputError(f"{header['table']}: its unfinished run ({self.path.name}) used other "
                                        "inputs, model or options; rerun with those, or without --resume "
                                        "to start over")
                self.done = {json.loads(line)["index"] for line in fh if line.strip()}
        fresh = not (resume and self.path.is_file() and self.path.stat().st_size)
        self.fh = open(self.path, "w" if fresh else "a", encoding="utf-8")
        if fresh:
            self.fh.write(json.dumps(header) + "\n")
            self.fh.flush()

    def append(self, result: SourceResult):
        self.fh.write(result.to_json() + "\n")
        self.fh.flush()

    def close(self):
        self.fh.close()

    def results(self):
        """Every journaled result, in input order, each input once."""
        offsets = {}
        with open(self.path, "rb") as fh:
            fh.readline()
            while True:
                at, line = fh.tell(), fh.readline()
                if not line:
                    break
                offsets.setdefault(json.loads(line)["index"], at)
            for index in sorted(offsets):
                fh.seek(offsets[index])
                yield SourceResult.from_json(fh.readline())


# ---- the table --------------------------------------------------------------------------------

def _columns_of(results, names):
    columns = {n: [] for n in names}
    keys = names[1:]
    for r in results:
        for row in r.rows:
            columns["source"].append(r.source)
            for k, v in zip(keys, row):
                columns[k].append(v)
    return columns


def _chunks(results, rows=8192):
    chunk, n = [], 0
    for r in results:
        chunk.append(r)
        n += len(r.rows)
        if n >= rows:
            yield chunk
            chunk, n = [], 0
    if chunk:
        yield chunk


def _csv_text(value, kind):
    import numpy as np

    if value is None:
        return ""
    if kind == "float32":
        return str(np.float32(value))  # the shortest text that reads back as the same float32
    return repr(value) if kind == "double" else str(value)


def write_face_table(path, results, label_names) -> int:
    """Write the face table of ``results`` (in order) to ``path`` (.parquet or .csv), atomically; returns rows."""
    path = Path(path)
    types = table_columns(label_names)
    names = list(types)
    n = 0
    if path.suffix.lower() == ".parquet":
        from ..data.tables import ParquetWriter

        with ParquetWriter(path, types) as out:
            for chunk in _chunks(results):
                out.write(_columns_of(chunk, names))
            return out.rows
    import csv

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        kinds = list(types.values())
        for r in results:
            for row in r.rows:
                writer.writerow([r.source] + [_csv_text(v, k) for v, k in zip(row, kinds[1:])])
                n += 1
    return n


def _check_table_path(table):
    path = Path(table)
    if path.suffix.lower() not in TABLE_FORMATS:
        raise BadInputError(f"{path}: a face table ends in {' or '.join(TABLE_FORMATS)}; "
                            "give --out NAME.parquet or NAME.csv")
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder; give a table file such as faces.parquet")
    return path


def predict_table(inputs: list, table: str | Path = "predictions.parquet", *, model=None, engine: str = "local",
                  workers: int | None = None, address: str | None = None, shard=None, detect: bool = True,
                  equalize: bool = False, every: int = 1, start: float | None = None, end: float | None = None,
                  batch_size: int | None = None, resume: bool = False, out=print):
    """Predict every face of ``inputs`` (files, folders, globs; images and videos) into one table.

    ``table`` is a .parquet (pandas, Spark, Dask read it) or .csv file with one row per face:
    ``source, frame, time, face, x, y, w, h, label, score, p_<label>...``, sorted by input,
    frame and face (images are frame 0 at time 0; videos give every ``every``-th frame from
    ``start`` to ``end`` seconds). ``engine`` is one of :data:`ENGINES`; ``"ray"`` runs on a
    local Ray cluster of ``workers`` CPUs, or on the running cluster at ``address``, and needs
    an ONNX model. ``shard="K/N"`` keeps the K-th of N blocks of the inputs. Each input's rows
    are journaled as it is done; ``resume=True`` carries on a killed run without doing any
    input twice. The table appears only when complete. Returns a ``BatchReport``.
    On a Ray cluster: ``fercsv.predict_table(["photos/", "clip.mp4"], "faces.parquet", engine="ray")``.

    >>> import cv2, fercsv, pandas, tempfile
    >>> from fercsv.data.synth import synth_photo
    >>> d = tempfile.mkdtemp()
    >>> _ = cv2.imwrite(f"{d}/two.png", synth_photo(n_faces=2)[0])           # a photo of two drawn faces
    >>> report = fercsv.predict_table([f"{d}/two.png"], f"{d}/faces.csv", model="fer2013", out=None)
    >>> report.faces, report.files                                          # doctest: +ELLIPSIS
    (2, {'csv': '/...faces.csv (2 rows)'})
    >>> list(pandas.read_csv(f"{d}/faces.csv").columns[:11])               # then p_angry ... p_neutral
    ['source', 'frame', 'time', 'face', 'x', 'y', 'w', 'h', 'label', 'score', 'p_angry']
    """
    from ..core.checks import choice, integer
    from ..runtime.loading import load_model
    from .inputs import BatchReport, cli_names, input_files
    from ..data.shards import parse_shard
    from .video import check_options

    say = out or (lambda *_: None)
    choice("predict", "engine", engine, ENGINES)
    integer("predict", "workers", workers, minimum=1, optional=True)
    integer("predict", "batch_size", batch_size, minimum=1, optional=True)
    if engine != "ray":
        given = [k for k, v in (("workers", workers), ("address", address), ("batch_size", batch_size))
                 if v is not None]
        if given:
            raise BadInputError(f"predict: {cli_names(given)} only apply to engine='ray' (CLI --engine ray)")
    check_options(every=every, start=start, end=end)
    shard = parse_shard(shard, func="predict")
    path = _check_table_path(table)
    files, missing = input_files(inputs)
    if path.suffix.lower() == ".parquet":
        from ..data.tables import pyarrow

        pyarrow()
    if engine == "ray":
        _ray()
    loaded = load_model(model)
    if engine == "ray" and loaded.kind != "onnx":
        raise BadInputError(f"{loaded.source}: the ray engine runs ONNX models; export it first "
                            "(fercsv export onnx RUN_DIR model.onnx) or use --engine local")
    work = Work(_model_for_workers(model, loaded), tuple(loaded.label_names), detect, equalize, every, start, end)
    indexed = list(enumerate(str(f) for f, _ in files))
    if shard is not None:
        indexed = shard.take(indexed)
    header = {"table": path.name, "labels": list(loaded.label_names),
              "options": {k: v for k, v in asdict(work).items() if k not in ("model", "label_names")},
              "inputs": hashlib.sha256("\n".join(f"{i} {s}" for i, s in indexed).encode()).hexdigest()}
    report = BatchReport(str(path), skipped=dict(missing), engine=engine, shard=str(shard or ""))
    if resume and path.is_file() and not journal_path(path).is_file():
        report.resumed = len(indexed)
        report.files[path.suffix.lstrip(".").lower()] = str(path)
        say(f"{path}: complete already (rerun without --resume to predict again)")
        return report
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = _Journal(journal_path(path), header, resume=resume)
    report.resumed = len(journal.done)
    todo = [(i, s) for i, s in indexed if i not in journal.done]
    try:
        if todo:
            runner = _RUNNERS[engine](loaded, todo, work, workers=workers, address=address,
                                      batch_size=batch_size or RAY_BATCH_SIZE)
            with contextlib.closing(runner):
                for result in _in_order(runner, todo):
                    journal.append(result)
                    _count(report, result)
                    say(describe(result))
    finally:
        journal.close()
    n = write_face_table(path, journal.results(), loaded.label_names)
    journal.path.unlink()
    report.files[path.suffix.lstrip(".").lower()] = f"{path} ({n} rows)"
    return report


def _model_for_workers(model, loaded) -> str:
    """How workers load the model: a shipped one by name (each node has its own copy), else by absolute path."""
    from ..runtime.shipped import DEFAULT_PRETRAINED, is_pretrained

    if model is None or is_pretrained(model):
        return "pretrained:" + str(model or DEFAULT_PRETRAINED).removeprefix("pretrained:")
    return os.path.abspath(loaded.source)


def _count(report, result):
    if result.skipped:
        report.skipped[result.source] = result.skipped
        return
    faces = sum(r[2] >= 0 for r in result.rows)
    report.predicted += 1
    report.faces += faces
    if not faces:
        report.no_face.append(result.source)
    if result.video:
        report.videos[result.source] = f"{faces} faces"
