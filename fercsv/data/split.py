"""Assign Usage (train / validation / test) to rows, stratified or by group, and balance classes.

Plain numpy, seeded, no scikit-learn needed on the ground floor.
"""
from __future__ import annotations

import numpy as np

from ..core import checks
from .dataset import FERDataset, read_csv, write_csv
from ..core.errors import BadInputError
from .labels import USAGES

TRAINING, VALIDATION, TEST = USAGES

#: How :func:`balance` equalises classes: drop rows of large classes, or repeat rows of small ones.
BALANCE_METHODS = ("undersample", "oversample")

#: What :func:`split` does with rows that already are PublicTest/PrivateTest.
EXISTING_SPLITS = ("keep", "replace")


def _counts(n, val, test):
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    if n_test + n_val > n:
        n_val = n - n_test
    return n_val, n_test


def _check_split(val, test, seed, stratify, group_column, existing):
    checks.number("split", "val", val, minimum=0, below=1)
    checks.number("split", "test", test, minimum=0, below=1)
    if val + test >= 1:
        raise BadInputError(f"split: val={val} and test={test} must sum below 1 so rows are left to train on")
    checks.seed("split", seed)
    checks.choice("split", "stratify", stratify, (True, False))
    checks.choice("split", "existing", existing, EXISTING_SPLITS)


def split(dataset: FERDataset, *, val: float = 0.1, test: float = 0.1, seed: int = 0, stratify: bool = True,
          group_column: str | None = None, existing: str = "keep") -> FERDataset:
    """Return a copy of ``dataset`` with Usage assigned: Training / PublicTest / PrivateTest.

    Stratified by label by default (each class split in the same proportions).
    With ``group_column`` (e.g. a subject id column of the CSV) all rows of a
    group land in the same split, for subject-independent evaluation. Rows that
    already are PublicTest or PrivateTest stay so (``existing="keep"``: only the
    Training rows are split) unless ``existing="replace"`` reassigns every row.

    >>> ds = FERDataset.from_arrays(np.zeros((100, 2, 2), np.uint8), [0] * 50 + [3] * 50)
    >>> out = split(ds, val=0.2, test=0.2)
    >>> usage_summary(out)
    '100 rows: Training 60, PublicTest 20, PrivateTest 20'
    >>> kept = split(out, val=0.5, test=0.0)        # existing test rows stay; Training is split
    >>> usage_summary(kept)
    '100 rows: Training 30, PublicTest 50, PrivateTest 20'
    """
    _check_split(val, test, seed, stratify, group_column, existing)
    if existing == "keep" and (dataset.usage != TRAINING).any():
        train = dataset.usage == TRAINING
        if not train.any():
            return dataset.subset(np.arange(len(dataset)))
        part = split(dataset.subset(train), val=val, test=test, seed=seed, stratify=stratify,
                     group_column=group_column, existing="replace")
        out = dataset.subset(np.arange(len(dataset)))
        out.usage = np.asarray(out.usage, dtype=object).copy()
        out.usage[np.flatnonzero(train)] = part.usage
        return out
    rng = np.random.default_rng(seed)
    n = len(dataset)
    usage = np.full(n, TRAINING, dtype=object)
    if group_column is not None:
        if group_column not in dataset.extra:
            raise BadInputError(f"no column {group_column!r} to group by; columns: "
                                f"{', '.join(dataset.extra) or 'none besides emotion,pixels,Usage'}")
        groups = np.asarray(dataset.extra[group_column]).astype(str)
        uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        order = rng.permutation(len(uniq))
        n_val, n_test = _counts(n, val, test)
        assigned = np.empty(len(uniq), dtype=object)
        filled = {TEST: 0, VALIDATION: 0}
        for g in order:
            if filled[TEST] < n_test:
                target = TEST
            elif filled[VALIDATION] < n_val:
                target = VALIDATION
            else:
                target = TRAINING
            assigned[g] = target
            if target in filled:
                filled[target] += sizes[g]
        usage = assigned[inverse.ravel()]
    else:
        strata = dataset.labels if stratify else np.zeros(n, np.int64)
        for cls in np.unique(strata):
            rows = rng.permutation(np.flatnonzero(strata == cls))
            n_val, n_test = _counts(len(rows), val, test)
            usage[rows[:n_test]] = TEST
            usage[rows[n_test:n_test + n_val]] = VALIDATION
    out = dataset.subset(np.arange(n))
    out.usage = usage
    return out


def balance(dataset: FERDataset, *, method: str = "undersample", seed: int = 0) -> FERDataset:
    """Equalise class counts among the Training rows; other rows are kept as they are.

    ``undersample`` drops rows of large classes down to the smallest class;
    ``oversample`` repeats rows of small classes up to the largest one.

    >>> ds = FERDataset.from_arrays(np.zeros((6, 2, 2), np.uint8), [0, 0, 0, 0, 3, 3])
    >>> np.bincount(balance(ds, method="oversample").labels).tolist()
    [4, 0, 0, 4]
    """
    checks.choice("balance", "method", method, BALANCE_METHODS)
    checks.seed("balance", seed)
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(dataset.usage == TRAINING)
    rest = np.flatnonzero(dataset.usage != TRAINING)
    classes, sizes = np.unique(dataset.labels[train], return_counts=True)
    if len(classes) == 0:
        raise BadInputError("no Training rows to balance")
    target = sizes.min() if method == "undersample" else sizes.max()
    picked = []
    for cls in classes:
        rows = train[dataset.labels[train] == cls]
        if len(rows) >= target:
            picked.append(rng.permutation(rows)[:target])
        else:
            picked.append(np.concatenate([rows, rng.choice(rows, target - len(rows), replace=True)]))
    keep = np.concatenate(picked + [rest])
    keep = np.sort(keep) if method == "undersample" else keep[np.argsort(keep, kind="stable")]
    return dataset.subset(keep)


def class_weights(labels, *, n_classes=None):
    """Weights inversely proportional to class frequency: ``n / (k * count)`` per class.

    Classes absent from ``labels`` get weight 0. Pass the result as Keras ``class_weight``.

    >>> class_weights([0, 0, 0, 1])
    {0: 0.6666666666666666, 1: 2.0}
    """
    labels = np.asarray(labels)
    labels = labels[labels >= 0]
    counts = np.bincount(labels, minlength=n_classes or 0)
    present = np.count_nonzero(counts)
    return {int(c): (float(len(labels) / (present * counts[c])) if counts[c] else 0.0)
            for c in range(len(counts))}


def split_csv(src, dst, *, val: float = 0.1, test: float = 0.1, seed: int = 0, stratify: bool = True,
              group_column: str | None = None, existing: str = "keep") -> FERDataset:
    """Read ``src``, assign Usage with :func:`split`, write ``dst``; returns the new dataset."""
    _check_split(val, test, seed, stratify, group_column, existing)
    out = split(read_csv(src), val=val, test=test, seed=seed, stratify=stratify,
                group_column=group_column, existing=existing)
    write_csv(out, dst)
    return out


def balance_csv(src, dst, *, method: str = "undersample", seed: int = 0) -> FERDataset:
    """Read ``src``, balance its Training rows with :func:`balance`, write ``dst``."""
    checks.choice("balance", "method", method, BALANCE_METHODS)
    out = balance(read_csv(src), method=method, seed=seed)
    write_csv(out, dst)
    return out


def usage_summary(dataset, *, per_label=False) -> str:
    """One line: rows per Usage (and, with ``per_label``, Training rows per label).

    >>> ds = FERDataset.from_arrays(np.zeros((3, 2, 2), np.uint8), [0, 3, 3])
    >>> usage_summary(ds, per_label=True)
    '3 rows: Training 3, PublicTest 0, PrivateTest 0; Training per label: angry 1, happy 2'
    """
    text = f"{len(dataset)} rows: " + ", ".join(f"{u} {int((dataset.usage == u).sum())}" for u in USAGES)
    if per_label:
        train = dataset.labels[dataset.usage == TRAINING]
        text += "; Training per label: " + ", ".join(
            f"{dataset.name_of(int(c))} {int((train == c).sum())}" for c in np.unique(train))
    return text
