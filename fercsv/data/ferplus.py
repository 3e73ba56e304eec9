"""FER+ labels: Microsoft's ten crowd votes per FER-2013 image turned into fercsv labels.

``fer2013new.csv`` has one row per ``fer2013.csv`` row, in the same order (join by
position, never by ``Image name``). The rules follow Microsoft's FER+ training code:
single votes are dropped; the majority label needs more than half of the remaining
votes, else the row is ``unknown``; rows that come out ``unknown`` or not-a-face
are dropped and counted.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import labels as L
from ..core.errors import BadInputError

#: Vote columns of fer2013new.csv, in file order: eight emotions, then unknown and not-a-face.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")

#: fercsv label (fixed code order, contempt = 7) for each emotion vote column.
_EMOTION_COLUMN = {L.canonical_label(c): i for i, c in enumerate(VOTE_COLUMNS[:8])}

#: FER+ label names in fercsv code order (FER-2013's seven, then contempt).
FERPLUS_LABELS = L.EXTENDED_LABELS

#: What each ``mode`` writes. Every mode writes the majority label in ``emotion``;
#: the soft modes add one ``p_<label>`` column per class that ``read_csv`` exposes
#: as ``FERDataset.targets()`` and ``train`` learns from.
FERPLUS_MODES = {
    "majority": "the majority label only",
    "probability": "majority label + vote fractions (train on the label distribution)",
    "crossentropy": "majority label + vote fractions (same targets as probability)",
    "multi": "majority label + an even share for every emotion that kept votes",
}



@dataclass
class FerPlusLabels:
    """FER+ labels for every row of a vote file.

    ``labels``: (N,) fercsv codes (0-7), -1 where the row is dropped; ``targets``:
    (N, 8) float32 soft targets in code order (zeros on dropped rows); ``keep``:
    rows that carry a label; ``dropped``: counts of dropped rows by reason.
    """

    labels: np.ndarray
    targets: np.ndarray
    keep: np.ndarray
    dropped: dict = field(default_factory=dict)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a FER+ mode, else raise a one-line error naming the choices."""
    if mode not in FERPLUS_MODES:
        raise BadInputError(f"ferplus_mode must be one of {', '.join(FERPLUS_MODES)}, not {mode!r}")
    return mode


def read_votes(path) -> tuple:
    """``(usage, votes)`` of a ``fer2013new.csv``: Usage (N,) and vote counts (N, 10) int.

    Raises a one-line error naming the file when a vote column is missing or a
    cell is not a count.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such FER+ vote file; pass Microsoft's fer2013new.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in VOTE_COLUMNS if c not in frame.columns]
    if missing or "Usage" not in frame.columns:
        raise BadInputError(f"{path}: not a FER+ vote file (missing columns "
                            f"{', '.join(missing or ['Usage'])}); pass Microsoft's fer2013new.csv")
    cells = frame[list(VOTE_COLUMNS)].to_numpy(dtype=str)
    bad = ~np.char.isdigit(np.char.strip(cells))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise BadInputError(f"{path}: line {row + 2}: column {VOTE_COLUMNS[col]!r} holds "
                            f"{str(cells[row, col])!r}, not a vote count; use the original fer2013new.csv")
    usage = np.array([L.canonical_usage(u, where=f"{path}: ") for u in frame["Usage"]], dtype=object)
    return usage, cells.astype(np.int64)


def ferplus_labels(votes, *, mode: str = "majority") -> FerPlusLabels:
    """Turn FER+ vote counts (N, 10) into fercsv labels and soft targets.

    >>> v = np.array([[6, 0, 0, 1, 3, 0, 0, 0, 0, 0],    # neutral 6 of 9 kept votes
    ...               [4, 4, 0, 0, 0, 0, 0, 0, 2, 0],    # no majority -> dropped
    ...               [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]])  # not a face -> dropped
    >>> r = ferplus_labels(v, mode="probability")
    >>> r.labels.tolist(), r.dropped
    ([6, -1, -1], {'unknown': 1, 'not a face': 1})
    >>> [round(float(p), 3) for p in r.targets[0] if p]
    [0.333, 0.667]
    """
    check_mode(mode)
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_COLUMNS):
        raise BadInputError(f"votes must have shape (N, {len(VOTE_COLUMNS)}), got {votes.shape}")
    kept = np.where(votes > 1, votes, 0.0)  # a single vote is an outlier
    total = kept.sum(axis=1)
    top = kept.argmax(axis=1)
    peak = kept.max(axis=1)
    majority = (total > 0) & (peak > 0.5 * total)
    not_face = majority & (top == len(VOTE_COLUMNS) - 1)
    keep = majority & (top < 8)
    # code order: column of each fercsv label (0 angry ... 7 contempt)
    order = [_EMOTION_COLUMN[name] for name in FERPLUS_LABELS]
    code_of_column = np.full(len(VOTE_COLUMNS), -1)
    code_of_column[order] = np.arange(len(order))
    labels = np.where(keep, code_of_column[top], -1).astype(np.int64)
    emotion = kept[:, order]
    if mode == "multi":
        emotion = (emotion > 0).astype(np.float64)
    sums = emotion.sum(axis=1, keepdims=True)
    targets = np.divide(emotion, sums, out=np.zeros_like(emotion), where=sums > 0)
    targets[~keep] = 0.0
    dropped = {"unknown": int((~keep & ~not_face).sum()), "not a face": int(not_face.sum())}
    return FerPlusLabels(labels, targets.astype(np.float32), keep, dropped)


def apply_ferplus(dataset, votes_path, *, mode: str = "majority"):
    """``(dataset, dropped)``: ``dataset`` relabelled with FER+ votes, rows without a label removed.

    ``dataset`` must be the FER-2013 CSV the vote file describes (same rows, same
    order, same Usage). Soft modes add ``p_<label>`` columns.
    """
    from .dataset import FERDataset

    check_mode(mode)
    usage, votes = read_votes(votes_path)
    if len(votes) != len(dataset):
        raise BadInputError(
            f"{votes_path} has {len(votes)} rows but {dataset.source} has {len(dataset)}; FER+ votes "
            "describe the original fer2013.csv row by row (35,887 rows): pass that file")
    differ = np.flatnonzero(usage != dataset.usage)
    if len(differ):
        row = int(differ[0])
        raise BadInputError(
            f"{votes_path}: line {row + 2} is {usage[row]} but row {row + 1} of {dataset.source} is "
            f"{dataset.usage[row]}; the files are not row-aligned: pass the original fer2013.csv")
    result = ferplus_labels(votes, mode=mode)
    extra = {k: np.asarray(v)[result.keep] for k, v in dataset.extra.items()}
    if mode != "majority":
        for j, name in enumerate(FERPLUS_LABELS):
            extra[L.TARGET_PREFIX + name] = np.array([f"{p:.4g}" for p in result.targets[result.keep, j]],
                                                   dtype=object)
    out = FERDataset(dataset.images[result.keep], result.labels[result.keep],
                     dataset.usage[result.keep], list(FERPLUS_LABELS), extra, [], dataset.source)
    return out, result.dropped


def ferplus_csv(src, votes, dst, *, mode: str = "majority", label_format: str = "auto", shard=None):
    """Write ``dst``: the FER-2013 CSV ``src`` relabelled with the FER+ ``votes`` file.

    Returns a ConvertReport whose ``dropped`` counts the rows left out by reason
    (unknown, not a face). ``dst`` appears only when complete. ``shard="K/N"`` keeps
    the K-th of N blocks of the rows that have a FER+ label (see :mod:`fercsv.data.shards`).
    On the real files: ``ferplus_csv("fer2013.csv", "fer2013new.csv", "ferplus.csv", mode="probability")``.

    Here a synthetic stand-in for fer2013.csv gets a vote file: every row 6 votes happiness,
    2 surprise, 2 unknown, but the last one, which the annotators found not to be a face:

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp()
    >>> ds = fercsv.synth_dataset(per_class=1)                                # 35 rows
    >>> _ = fercsv.write_csv(ds, f"{d}/fer2013.csv")
    >>> votes = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    >>> votes += [f"{usage},,0,6,2,0,0,0,0,0,2,0" for usage in ds.usage[:-1]]
    >>> votes += [f"{ds.usage[-1]},,0,0,0,0,0,0,0,0,0,10"]
    >>> _ = open(f"{d}/fer2013new.csv", "w").write("\\n".join(votes) + "\\n")
    >>> report = ferplus_csv(f"{d}/fer2013.csv", f"{d}/fer2013new.csv", f"{d}/ferplus.csv", mode="probability")
    >>> report.rows, report.dropped
    (34, {'FER+ not a face': 1})
    >>> relabelled = fercsv.read_csv(f"{d}/ferplus.csv")
    >>> relabelled.name_of(relabelled.labels[0]), relabelled.targets()[0].tolist()   # unknown votes do not count
    ('happy', [0.0, 0.0, 0.0, 0.75, 0.0, 0.25, 0.0, 0.0])
    """
    import time

    import numpy as np

    from .reports import ConvertReport
    from .dataset import read_csv, write_csv
    from .shards import parse_shard

    check_mode(mode)
    shard = parse_shard(shard, func="ferplus_csv")
    start = time.perf_counter()
    if not Path(votes).is_file():
        raise BadInputError(f"{votes}: no such FER+ vote file; pass Microsoft's fer2013new.csv")
    dataset, dropped = apply_ferplus(read_csv(src), votes, mode=mode)
    if shard is not None:
        dataset = dataset.subset(np.arange(*shard.bounds(len(dataset))))
    write_csv(dataset, dst, label_format=label_format)
    report = ConvertReport(str(src), str(dst), label_names=list(dataset.label_names), shard=str(shard or ""))
    for usage, code in zip(dataset.usage, dataset.labels):
        report.add(usage, dataset.label_names[code])
    report.dropped = {f"FER+ {reason}": n for reason, n in dropped.items() if n}
    report.seconds = time.perf_counter() - start
    return report
