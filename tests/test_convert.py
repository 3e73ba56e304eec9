import gzip
import os

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from fercsv import (BadImageError, BadInputError, UnsafePathError, csv_to_folder, folder_to_csv,
                    read_csv)
from fercsv.data.dataset import FERDataset, write_csv

from helpers import face, write_image


def _lines(path):
    return path.read_text().splitlines()


def test_split_layout_counts_order_and_usage(split_folder, tmp_path):
    report = folder_to_csv(split_folder, tmp_path / "out.csv")
    assert report.rows == 15
    assert report.counts == {"Training": {"angry": 3, "happy": 3, "sad": 3},
                             "PublicTest": {"angry": 1, "happy": 1, "sad": 1},
                             "PrivateTest": {"angry": 1, "happy": 1, "sad": 1}}
    lines = _lines(tmp_path / "out.csv")
    assert lines[0] == "emotion,pixels,Usage"
    keys = [(ln.split(",")[2], ln.split(",")[0]) for ln in lines[1:]]
    assert keys == [("Training", "0")] * 3 + [("Training", "3")] * 3 + [("Training", "4")] * 3 + \
        [("PublicTest", c) for c in "034"] + [("PrivateTest", c) for c in "034"]
    ds = read_csv(tmp_path / "out.csv")
    expected = cv2.imread(str(split_folder / "train" / "angry" / "angry_0.png"), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(ds.images[0], expected)


def test_flat_layout_synonyms_and_training_default(tmp_path):
    for name in ("Anger", "HAPPINESS", "Surprised", "fearful", "disgusted", "Sadness", "neutral"):
        write_image(tmp_path / "src" / name / "a.png", face(1))
    report = folder_to_csv(tmp_path / "src", tmp_path / "o.csv")
    ds = read_csv(tmp_path / "o.csv")
    assert set(ds.usage) == {"Training"}
    assert sorted(ds.labels.tolist()) == [0, 1, 2, 3, 4, 5, 6]
    assert report.label_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_kaggle_prefixes_override_split_folder(tmp_path):
    write_image(tmp_path / "src/train/happy/Training_1.jpg", face(1))
    write_image(tmp_path / "src/test/happy/PublicTest_2.jpg", face(2))
    write_image(tmp_path / "src/test/happy/PrivateTest_3.jpg", face(3))
    folder_to_csv(tmp_path / "src", tmp_path / "o.csv")
    assert read_csv(tmp_path / "o.csv").usage.tolist() == ["Training", "PublicTest", "PrivateTest"]


def test_every_format_and_mode_becomes_48x48_gray(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src" / "happy"
    src.mkdir(parents=True)
    rgb = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (50, 50), dtype=np.uint8)
    Image.fromarray(gray).save(src / "l.png")
    Image.fromarray(rgb).convert("P").save(src / "p.png")
    Image.fromarray(rgb).save(src / "rgb.jpg")
    Image.fromarray(np.dstack([rgb, np.full((60, 70), 128, np.uint8)])).save(src / "rgba.png")
    cv2.imwrite(str(src / "g16.png"), (gray.astype(np.uint16) * 257))
    Image.fromarray(rgb).save(src / "b.bmp")
    Image.fromarray(gray).save(src / "t.tif")
    Image.fromarray(rgb).save(src / "w.webp", lossless=True)
    iio.imwrite(src / "anim.gif", np.stack([gray, 255 - gray]), extension=".gif")
    Image.fromarray(gray).save(src / "g.pgm")
    Image.fromarray(gray[:20, :30]).save(src / "small.jpeg")
    report = folder_to_csv(tmp_path / "src", tmp_path / "o.csv")
    assert report.skipped == [] and report.rows == 11
    ds = read_csv(tmp_path / "o.csv")
    assert ds.images.shape == (11, 48, 48)
    files = sorted(os.listdir(src))
    by_name = dict(zip(files, ds.images))
    expected = cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA)
    assert np.array_equal(by_name["l.png"], expected)
    assert np.array_equal(by_name["g16.png"], expected)
    assert np.array_equal(by_name["t.tif"], expected)
    assert np.array_equal(by_name["g.pgm"], expected)
    assert np.array_equal(by_name["anim.gif"], expected)  # first frame, not the inverted second
    rgb_gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(by_name["w.webp"].astype(int) - rgb_gray).max() <= 1
    assert np.abs(by_name["rgba.png"].astype(int) - rgb_gray).max() <= 1


def test_size_and_equalize(split_folder, tmp_path):
    folder_to_csv(split_folder, tmp_path / "a.csv", size=32, equalize=True)
    ds = read_csv(tmp_path / "a.csv")
    assert ds.images.shape[1:] == (32, 32)
    assert ds.images[0].min() == 0 and ds.images[0].max() == 255


def test_bad_files_are_skipped_and_reported(split_folder, tmp_path):
    bad = split_folder / "train" / "happy"
    (bad / "empty.png").write_bytes(b"")
    (bad / "garbage.png").write_bytes(os.urandom(300))
    good_jpg = cv2.imencode(".jpg", face(5))[1].tobytes()
    (bad / "truncated.jpg").write_bytes(good_jpg[: len(good_jpg) // 2])
    os.symlink(tmp_path / "missing.png", bad / "dangling.png")
    (bad / "notes.txt").write_text("not an image")
    (split_folder / "README.md").write_text("ignored too")
    report = folder_to_csv(split_folder, tmp_path / "o.csv")
    assert report.rows == 15
    reasons = {os.path.basename(p): r for p, r in report.skipped}
    assert reasons == {"empty.png": "empty file", "garbage.png": "cannot decode image",
                       "truncated.jpg": "truncated JPEG", "dangling.png": "unreadable file"}
    assert len(report.ignored) == 2
    text = str(report)
    assert "skipped 4 bad files" in text and "ignored 2 files" in text and "dangling.png" in text


def test_strict_fails_and_writes_nothing(split_folder, tmp_path):
    (split_folder / "train" / "sad" / "zzz.png").write_bytes(b"")
    with pytest.raises(BadImageError, match="zzz.png: empty file"):
        folder_to_csv(split_folder, tmp_path / "o.csv", strict=True)
    assert list(tmp_path.glob("o.csv*")) == [] and list(tmp_path.glob(".o.csv*")) == []


def test_gzip_output_and_shuffle(split_folder, tmp_path):
    folder_to_csv(split_folder, tmp_path / "o.csv")
    folder_to_csv(split_folder, tmp_path / "o.csv.gz")
    assert gzip.decompress((tmp_path / "o.csv.gz").read_bytes()) == (tmp_path / "o.csv").read_bytes()
    folder_to_csv(split_folder, tmp_path / "s1.csv", shuffle=True, seed=3)
    folder_to_csv(split_folder, tmp_path / "s2.csv", shuffle=True, seed=3)
    s1, plain = _lines(tmp_path / "s1.csv"), _lines(tmp_path / "o.csv")
    assert s1 == _lines(tmp_path / "s2.csv")
    assert s1 != plain and sorted(s1) == sorted(plain)


def test_round_trip_is_byte_identical(split_folder, tmp_path):
    write_image(split_folder / "train" / "contempt" / "c.png", face(9))
    folder_to_csv(split_folder, tmp_path / "a.csv")
    report = csv_to_folder(tmp_path / "a.csv", tmp_path / "back")
    assert report.rows == 16
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == ["test", "train", "val"]
    assert (tmp_path / "back/train/contempt/00000.png").is_file()
    folder_to_csv(tmp_path / "back", tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    first = cv2.imread(str(tmp_path / "back/train/angry/00000.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(first, read_csv(tmp_path / "a.csv").images[0])


def test_custom_label_names_round_trip_without_side_file(tmp_path):
    write_image(tmp_path / "src/confused/a.png", face(1))
    write_image(tmp_path / "src/happy/b.png", face(2))
    folder_to_csv(tmp_path / "src", tmp_path / "a.csv")
    assert [ln.split(",")[0] for ln in _lines(tmp_path / "a.csv")[1:]] == ["happy", "confused"]
    csv_to_folder(tmp_path / "a.csv", tmp_path / "back")
    assert (tmp_path / "back/train/confused/00000.png").is_file()


def test_csv_without_usage_or_labels_goes_flat(tmp_path):
    (tmp_path / "test.csv").write_text("pixels\n" + "\n".join([" ".join(["7"] * 4)] * 3) + "\n")
    csv_to_folder(tmp_path / "test.csv", tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out" / "unlabeled")) == ["00000.png", "00001.png", "00002.png"]


@pytest.mark.parametrize("label", ["..", "../evil", "a/b", "/etc", "", "x\x00y", " pad"])
def test_unsafe_label_names_are_refused(tmp_path, label):
    ds = FERDataset(np.zeros((1, 2, 2), np.uint8), np.array([7]), np.array(["Training"], dtype=object),
                    list(FERDataset.from_arrays(np.zeros((1, 2, 2), np.uint8), [0]).label_names) + [label])
    with pytest.raises(UnsafePathError, match="cannot be used as a folder name"):
        csv_to_folder(ds, tmp_path / "out")
    assert not (tmp_path / "evil").exists() and not any((tmp_path / "out").rglob("*.png"))


def test_unsafe_label_in_csv_file(tmp_path):
    (tmp_path / "x.csv").write_text("emotion,pixels,Usage\n../../escape,1 2 3 4,Training\n")
    with pytest.raises(UnsafePathError):
        csv_to_folder(tmp_path / "x.csv", tmp_path / "out")
    assert not any(tmp_path.rglob("*.png"))


def test_non_empty_destination_needs_overwrite(split_folder, tmp_path):
    folder_to_csv(split_folder, tmp_path / "a.csv")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(BadInputError, match="not empty"):
        csv_to_folder(tmp_path / "a.csv", tmp_path / "out")
    csv_to_folder(tmp_path / "a.csv", tmp_path / "out", overwrite=True)
    assert len(list((tmp_path / "out").rglob("*.png"))) == 15


def test_bad_sources(tmp_path):
    with pytest.raises(BadInputError, match="found no images"):
        (tmp_path / "empty" / "happy").mkdir(parents=True)
        folder_to_csv(tmp_path / "empty", tmp_path / "o.csv")
    (tmp_path / "mixed" / "train" / "happy").mkdir(parents=True)
    (tmp_path / "mixed" / "sad").mkdir(parents=True)
    with pytest.raises(BadInputError, match="mixes split folders"):
        folder_to_csv(tmp_path / "mixed", tmp_path / "o.csv")


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    ds = FERDataset.from_arrays(np.zeros((3000, 48, 48), np.uint8), [1] * 3000)
    from fercsv.data import dataset as dataset_module

    calls = {"n": 0}
    real = dataset_module.CSVWriter.write_lines

    def write_then_die(self, *a, **k):
        calls["n"] += 1
        real(self, *a, **k)
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(dataset_module.CSVWriter, "write_lines", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        write_csv(ds, tmp_path / "big.csv")
    assert list(tmp_path.iterdir()) == []
