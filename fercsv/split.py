"""Assign Usage (train / validation / test) to rows, stratified or by group, and balance classes.

Plain numpy, seeded, no scikit-learn needed on the ground floor.
"""
import numpy as np

from .dataset import FERDataset, read_csv, write_csv
from .errors import BadInputError


def _counts(n, val, test):
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    if n_test + n_val > n:
        n_val = n - n_test
    return n_val, n_test


def split(dataset, *, val=0.1, test=0.1, seed=0, stratify=True, group_column=None):
    """Return a copy of ``dataset`` with Usage reassigned: Training / PublicTest / PrivateTest.

    Stratified by label by default (each class split in the same proportions).
    With ``group_column`` (e.g. a subject id column of the CSV) all rows of a
    group land in the same split, for subject-independent evaluation.

    >>> ds = FERDataset.from_arrays(np.zeros((100, 2, 2), np.uint8), [0] * 50 + [3] * 50)
    >>> out = split(ds, val=0.2, test=0.2)
    >>> sorted(zip(*np.unique(out.usage, return_counts=True)))
    [('PrivateTest', 20), ('PublicTest', 20), ('Training', 60)]
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise BadInputError(f"val={val} and test={test} must be fractions in [0, 1) summing below 1")
    rng = np.random.default_rng(seed)
    n = len(dataset)
    usage = np.full(n, "Training", dtype=object)
    if group_column is not None:
        if group_column not in dataset.extra:
            raise BadInputError(f"no column {group_column!r} to group by; columns: "
                                f"{', '.join(dataset.extra) or 'none besides emotion,pixels,Usage'}")
        groups = np.asarray(dataset.extra[group_column]).astype(str)
        uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        order = rng.permutation(len(uniq))
        n_val, n_test = _counts(n, val, test)
        assigned = np.empty(len(uniq), dtype=object)
        filled = {"PrivateTest": 0, "PublicTest": 0}
        for g in order:
            if filled["PrivateTest"] < n_test:
                target = "PrivateTest"
            elif filled["PublicTest"] < n_val:
                target = "PublicTest"
            else:
                target = "Training"
            assigned[g] = target
            if target in filled:
                filled[target] += sizes[g]
        usage = assigned[inverse.ravel()]
    else:
        strata = dataset.labels if stratify else np.zeros(n, np.int64)
        for cls in np.unique(strata):
            rows = rng.permutation(np.flatnonzero(strata == cls))
            n_val, n_test = _counts(len(rows), val, test)
            usage[rows[:n_test]] = "PrivateTest"
            usage[rows[n_test:n_test + n_val]] = "PublicTest"
    out = dataset.subset(np.arange(n))
    out.usage = usage
    return out


def balance(dataset, *, method="undersample", seed=0):
    """Equalise class counts among the Training rows; other rows are kept as they are.

    ``undersample`` drops rows of large classes down to the smallest class;
    ``oversample`` repeats rows of small classes up to the largest one.

    >>> ds = FERDataset.from_arrays(np.zeros((6, 2, 2), np.uint8), [0, 0, 0, 0, 3, 3])
    >>> np.bincount(balance(ds, method="oversample").labels).tolist()
    [4, 0, 0, 4]
    """
    if method not in ("undersample", "oversample"):
        raise BadInputError(f"method must be 'undersample' or 'oversample', not {method!r}")
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(dataset.usage == "Training")
    rest = np.flatnonzero(dataset.usage != "Training")
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


def split_csv(src, dst, *, val=0.1, test=0.1, seed=0, stratify=True, group_column=None):
    """Read ``src``, assign Usage with :func:`split`, write ``dst``; returns the new dataset."""
    out = split(read_csv(src), val=val, test=test, seed=seed, stratify=stratify,
                group_column=group_column)
    write_csv(out, dst)
    return out


def balance_csv(src, dst, *, method="undersample", seed=0):
    """Read ``src``, balance its Training rows with :func:`balance`, write ``dst``."""
    out = balance(read_csv(src), method=method, seed=seed)
    write_csv(out, dst)
    return out
