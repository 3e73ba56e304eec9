import numpy as np

from fercsv import read_csv
from fercsv import synth_dataset
from fercsv.data.synth import synth
from helpers import run_cli


def test_synth_folder_layout_and_determinism(tmp_path):
    counts = synth(tmp_path / "a", per_class=4, seed=7)
    assert counts == {"train": 28, "val": 14, "test": 14}
    assert len(list((tmp_path / "a/train/happy").glob("*.png"))) == 4
    synth(tmp_path / "b", per_class=4, seed=7)
    a = (tmp_path / "a/train/sad/sad_00001.png").read_bytes()
    assert a == (tmp_path / "b/train/sad/sad_00001.png").read_bytes()


def test_synth_classes_are_not_separable_by_one_pixel():
    ds = synth_dataset(per_class=40, seed=0)
    x = ds.images.reshape(len(ds), -1).astype(float)
    y = ds.labels
    best = 0.0
    for p in range(x.shape[1]):  # best accuracy of a threshold on any single pixel, per class pair
        v = x[:, p]
        for a, b in ((3, 4), (0, 6), (5, 2)):
            m = (y == a) | (y == b)
            t = np.median(v[m])
            acc = max(((v[m] > t) == (y[m] == a)).mean(), ((v[m] <= t) == (y[m] == a)).mean())
            best = max(best, acc)
    assert best < 0.85
    class_means = np.stack([x[y == c].mean(0) for c in range(7)])
    assert np.abs(class_means[3] - class_means[4]).max() > 10  # but shapes do differ


def test_synth_and_demo_cli(tmp_path):
    r = run_cli("synth", tmp_path / "s", "--per-class", "3", "--seed", "1")
    assert r.returncode == 0 and "wrote 49 synthetic faces" in r.stdout
    r = run_cli("demo", "--workdir", tmp_path / "demo", "--per-class", "8", "--core-only")
    assert r.returncode == 0, r.stderr
    assert "round trip byte-identical: True" in r.stdout
    assert len(read_csv(tmp_path / "demo" / "faces.csv")) == 7 * (8 + 2 + 2)
