import numpy as np
import pytest

from fercsv import BadInputError, FERDataset, balance, class_weights, read_csv, split, write_csv
from helpers import run_cli


def _ds(n_per_class=(50, 30, 20), extra=None):
    labels = np.concatenate([[c] * n for c, n in zip((0, 3, 4), n_per_class)])
    imgs = np.arange(len(labels) * 4, dtype=np.int64).reshape(-1, 2, 2) % 256
    return FERDataset.from_arrays(imgs.astype(np.uint8), labels, extra=extra)


def test_stratified_split_keeps_class_proportions():
    out = split(_ds(), val=0.2, test=0.1, seed=1)
    for cls, n in ((0, 50), (3, 30), (4, 20)):
        rows = out.labels == cls
        assert (out.usage[rows] == "PrivateTest").sum() == round(n * 0.1)
        assert (out.usage[rows] == "PublicTest").sum() == round(n * 0.2)
    assert split(_ds(), seed=1).usage.tolist() == split(_ds(), seed=1).usage.tolist()
    assert split(_ds(), seed=1).usage.tolist() != split(_ds(), seed=2).usage.tolist()


def test_group_split_keeps_subjects_together():
    subjects = np.array([f"s{i // 5}" for i in range(100)], dtype=object)
    out = split(_ds(extra={"subject": subjects}), val=0.2, test=0.2, group_column="subject", seed=0)
    for s in set(subjects):
        assert len(set(out.usage[subjects == s])) == 1
    assert {"Training", "PublicTest", "PrivateTest"} == set(out.usage)
    with pytest.raises(BadInputError, match="no column 'person'"):
        split(_ds(), group_column="person")


def test_balance_touches_only_training():
    ds = _ds()
    ds.usage[:5] = "PrivateTest"
    under = balance(ds, method="undersample", seed=0)
    train = under.usage == "Training"
    assert np.bincount(under.labels[train])[[0, 3, 4]].tolist() == [20, 20, 20]
    assert (under.usage == "PrivateTest").sum() == 5
    over = balance(ds, method="oversample", seed=0)
    counts = np.bincount(over.labels[over.usage == "Training"])[[0, 3, 4]]
    assert counts.tolist() == [45, 45, 45]


def test_class_weights_inverse_frequency():
    w = class_weights([0] * 60 + [1] * 30 + [2] * 10)
    assert w[2] == pytest.approx(100 / (3 * 10))
    assert w[0] * 60 == pytest.approx(w[2] * 10)
    assert class_weights([0, 2], n_classes=4) == {0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}


def test_split_and_balance_cli(tmp_path):
    write_csv(_ds(), tmp_path / "in.csv")
    r = run_cli("split", tmp_path / "in.csv", tmp_path / "out.csv", "--val", "0.2", "--test", "0.2")
    assert r.returncode == 0, r.stderr
    assert "Training 60, PublicTest 20, PrivateTest 20" in r.stdout
    assert sorted(set(read_csv(tmp_path / "out.csv").usage)) == ["PrivateTest", "PublicTest", "Training"]
    r = run_cli("balance", tmp_path / "in.csv", tmp_path / "bal.csv", "--oversample")
    assert r.returncode == 0, r.stderr
    assert "angry 50, happy 50, sad 50" in r.stdout
    r = run_cli("split", tmp_path / "in.csv", tmp_path / "o.csv", "--val", "1.5")
    assert r.returncode == 2 and "not a fraction" in r.stderr
    r = run_cli("split", tmp_path / "in.csv", tmp_path / "neg.csv", "--seed", "-1")
    assert r.returncode != 0 and "Traceback" not in r.stderr and not (tmp_path / "neg.csv").exists()
    assert "seed (CLI --seed) must be an integer >= 0" in r.stderr.strip().splitlines()[-1]


def test_seeds_outside_numpys_range_are_refused_by_name():
    for call in (lambda s: split(_ds(), seed=s), lambda s: balance(_ds(), seed=s)):
        for bad in (-1, 2**32, 1.5):
            with pytest.raises(BadInputError, match=r"seed \(CLI --seed\) must be an integer >= 0 and <= 4294967295"):
                call(bad)
