import json

import numpy as np

from fercsv import FERDataset, info, write_csv
from helpers import face, run_cli, write_image


def _dataset_with_problems():
    imgs = np.stack([face(i) for i in range(6)])
    imgs[1] = imgs[0]          # duplicate across splits, same label
    imgs[2] = imgs[0]          # ... and with a conflicting label
    imgs[3] = 77               # blank
    imgs[4] = 120
    imgs[4, 0, 0] = 123        # near-blank
    return FERDataset.from_arrays(imgs, [3, 3, 4, 0, 0, 6],
                                  usage=["Training", "PrivateTest", "Training", "Training",
                                         "PublicTest", "Training"])


def test_info_finds_blanks_duplicates_and_leakage(tmp_path):
    path = write_csv(_dataset_with_problems(), tmp_path / "d.csv")
    r = info(path)
    assert r.rows == 6 and r.image_shape == (48, 48)
    assert r.counts["happy"] == {"Training": 1, "PrivateTest": 1}
    assert r.blank == ["line 5"]
    assert r.near_blank == ["line 6"]
    assert (r.duplicate_groups, r.duplicate_images) == (1, 3)
    assert (r.cross_split_groups, r.train_test_groups, r.conflicting_groups) == (1, 1, 1)
    text = str(r)
    assert "exact duplicates: 1 groups, 3 images" in text and "line 2 (happy, Training)" in text


def test_info_on_folder_names_files(tmp_path):
    img = face(1)
    write_image(tmp_path / "f/train/happy/a.png", img)
    write_image(tmp_path / "f/test/sad/b.png", img)
    r = info(tmp_path / "f")
    assert r.duplicate_groups == 1 and r.conflicting_groups == 1
    assert any("b.png" in e for e in r.examples[0])


def test_info_cli_json(tmp_path):
    path = write_csv(_dataset_with_problems(), tmp_path / "d.csv")
    out = run_cli("info", path, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows"] == 6 and data["duplicate_groups"] == 1 and len(data["blank"]) == 1
