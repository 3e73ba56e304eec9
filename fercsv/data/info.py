"""Dataset health report: counts per split and label, blank images, exact duplicates.

FER-2013 holds byte-identical images across splits and with conflicting
labels; this report makes such leakage visible before anyone trains on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import labels as L
from .dataset import FERDataset, read_csv


@dataclass
class InfoReport:
    """Counts, image size, blank and near-blank images, and duplicate groups (what :func:`info` returns).

    >>> import fercsv
    >>> report = fercsv.info(fercsv.synth_dataset(per_class=1))
    >>> report.rows, report.image_shape, report.duplicate_groups, report.blank
    (35, (48, 48), 0, [])
    >>> print(report)
    synthetic: 35 images of 48x48
    label        Training   PublicTest  PrivateTest    total
    angry               1            2            2        5
    disgust             1            2            2        5
    fear                1            2            2        5
    happy               1            2            2        5
    sad                 1            2            2        5
    surprise            1            2            2        5
    neutral             1            2            2        5
    total               7           14           14       35
    blank images (one value everywhere): 0
    near-blank images (range <= 4 grey levels): 0
    exact duplicates: 0 groups, 0 images; 0 groups span two splits (0 Training vs a test split), 0 carry conflicting labels
    """

    source: str
    rows: int
    image_shape: tuple
    counts: dict
    blank: list = field(default_factory=list)
    near_blank: list = field(default_factory=list)
    duplicate_groups: int = 0
    duplicate_images: int = 0
    cross_split_groups: int = 0
    train_test_groups: int = 0
    conflicting_groups: int = 0
    examples: list = field(default_factory=list)
    label_names: list = field(default_factory=list)

    def to_dict(self):
        """Plain-data form for ``--json``."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def __str__(self):
        usages = [u for u in L.USAGES if any(u in per for per in self.counts.values())]
        width = max([len(n) for n in self.counts] + [5])
        if not self.rows:
            return f"{self.source}: no images (the file holds a header but no data rows)"
        lines = [f"{self.source}: {self.rows} images of {self.image_shape[0]}x{self.image_shape[1]}",
                 "label".ljust(width) + "".join(f"{u:>13}" for u in usages) + f"{'total':>9}"]
        for name, per in self.counts.items():
            lines.append(name.ljust(width) + "".join(f"{per.get(u, 0):>13}" for u in usages)
                         + f"{sum(per.values()):>9}")
        totals = [sum(per.get(u, 0) for per in self.counts.values()) for u in usages]
        lines.append("total".ljust(width) + "".join(f"{t:>13}" for t in totals) + f"{sum(totals):>9}")
        lines.append(f"blank images (one value everywhere): {len(self.blank)}"
                     + (f", e.g. {self.blank[0]}" if self.blank else ""))
        lines.append(f"near-blank images (range <= 4 grey levels): {len(self.near_blank)}")
        lines.append(f"exact duplicates: {self.duplicate_groups} groups, {self.duplicate_images} images; "
                     f"{self.cross_split_groups} groups span two splits "
                     f"({self.train_test_groups} Training vs a test split), "
                     f"{self.conflicting_groups} carry conflicting labels")
        for ex in self.examples[:5]:
            lines.append(f"  duplicate: {', '.join(ex)}")
        return "\n".join(lines)


def _row_names(ds):
    if "file" in ds.extra:
        return [str(p) for p in ds.extra["file"]]
    return [f"line {i + 2}" for i in range(len(ds))]


def describe(dataset, *, source=None):
    """Build an :class:`InfoReport` for a :class:`FERDataset`."""
    ds = dataset
    n = len(ds)
    counts = {}
    for name, per in ds.counts().iterrows():
        counts[name] = {u: int(v) for u, v in per.items() if v}
    flat = ds.images.reshape(n, int(np.prod(ds.images.shape[1:])))
    lo, hi = (flat.min(axis=1), flat.max(axis=1)) if n and flat.shape[1] else (np.zeros(0), np.zeros(0))
    names = _row_names(ds)
    blank = [names[i] for i in np.flatnonzero(lo == hi)]
    near = [names[i] for i in np.flatnonzero((hi.astype(int) - lo <= 4) & (lo != hi))]
    report = InfoReport(source or ds.source or "dataset", n, ds.image_shape, counts, blank, near,
                        label_names=list(ds.label_names))
    if n:
        keys = np.ascontiguousarray(flat).view(np.dtype((np.void, flat.shape[1]))).ravel()
        _, inverse, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        dup_rows = np.flatnonzero(sizes[inverse] > 1)
        groups = {}
        for i in dup_rows:
            groups.setdefault(int(inverse[i]), []).append(int(i))
        report.duplicate_groups = len(groups)
        report.duplicate_images = len(dup_rows)
        for rows in groups.values():
            usages = set(ds.usage[rows])
            report.cross_split_groups += len(usages) > 1
            report.train_test_groups += L.USAGES[0] in usages and len(usages) > 1
            report.conflicting_groups += len(set(ds.labels[rows])) > 1
            if len(report.examples) < 20:
                report.examples.append([f"{names[i]} ({ds.name_of(int(ds.labels[i]))}, {ds.usage[i]})"
                                        for i in rows[:3]])
    return report


def info(path, *, workers: int | None = None) -> InfoReport:
    """Report on a CSV file or an image folder.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("emotion,pixels,Usage\\n3,5 5 5 5,Training\\n3,5 5 5 5,PublicTest\\n")
    >>> r = info(p)
    >>> r.rows, len(r.blank), r.duplicate_groups, r.cross_split_groups
    (2, 2, 1, 1)
    >>> _ = open(p, "w").write("emotion,pixels,Usage\\n")
    >>> print(info(p))                                  # doctest: +ELLIPSIS
    /...t.csv: no images (the file holds a header but no data rows)
    """
    if isinstance(path, FERDataset):
        return describe(path)
    if Path(path).is_dir():
        from .convert import read_folder

        return describe(read_folder(path, workers=workers), source=str(path))
    return describe(read_csv(path, workers=workers), source=str(path))
