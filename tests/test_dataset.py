import gzip

import numpy as np
import pytest

import fercsv
from fercsv import BadInputError, BadRowError, FERDataset, read_csv, write_csv


def _csv(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _row(value, n=4):
    return " ".join([str(value)] * n)


def test_read_fer2013_layout(tmp_path):
    p = _csv(tmp_path, f"emotion,pixels,Usage\n0,{_row(1)},Training\n6,{_row(2)},PublicTest\n"
                       f"3,{_row(255)},PrivateTest\n")
    ds = read_csv(p)
    assert ds.images.shape == (3, 2, 2) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 6, 3]
    assert [ds.label_names[c] for c in ds.labels] == ["angry", "neutral", "happy"]
    assert ds.usage.tolist() == ["Training", "PublicTest", "PrivateTest"]
    x, y = ds.arrays()
    assert x.shape == (3, 2, 2, 1) and x.dtype == np.float32
    assert x.max() == 1.0 and y.tolist() == [0, 6, 3]
    assert ds.arrays("PublicTest")[1].tolist() == [6]


def test_read_icml_variant_with_spaced_header_and_gzip(tmp_path):
    text = f"emotion, Usage, pixels\n2,Training,{_row(9)}\n5,PublicTest,{_row(8)}\n"
    p = tmp_path / "icml_face_data.csv.gz"
    p.write_bytes(gzip.compress(text.encode()))
    ds = read_csv(p)
    assert ds.labels.tolist() == [2, 5]
    assert ds.usage.tolist() == ["Training", "PublicTest"]
    assert ds.images[1].ravel().tolist() == [8] * 4


def test_read_kaggle_train_and_test_csv(tmp_path):
    train = read_csv(_csv(tmp_path, f"emotion,pixels\n4,{_row(3)}\n", "train.csv"))
    assert train.usage.tolist() == ["Training"] and train.labels.tolist() == [4]
    test = read_csv(_csv(tmp_path, f"pixels\n{_row(3)}\n{_row(4)}\n", "test.csv"))
    assert test.labels.tolist() == [-1, -1]
    assert test.name_of(-1) == "unlabeled"


def test_read_label_names_and_crlf(tmp_path):
    p = _csv(tmp_path, f"emotion,pixels,Usage\r\nHappiness,{_row(1)},train\r\ncontempt,{_row(2)},test\r\n")
    ds = read_csv(p)
    assert [ds.name_of(c) for c in ds.labels] == ["happy", "contempt"]
    assert ds.labels.tolist() == [3, 7]
    assert ds.usage.tolist() == ["Training", "PrivateTest"]


def test_quoted_csv_uses_full_parser(tmp_path):
    p = _csv(tmp_path, f'emotion,pixels,Usage\n"1","{_row(7)}","Training"\n')
    ds = read_csv(p)
    assert ds.labels.tolist() == [1] and ds.images.ravel().tolist() == [7] * 4


@pytest.mark.parametrize("row, message", [
    (f"3,{_row(1, 3)},Training", "line 3: has 3 pixel values, expected 4"),
    ("3,1 2 x 4,Training", "line 3: non-integer token 'x'"),
    ("3,1 2 300 4,Training", "line 3: value 300 is out of range 0..255"),
    (f"3,{_row(1)}", "line 3 has 2 fields, expected 3"),
    ("3,,Training", "line 3: pixels are missing"),
])
def test_bad_row_names_line_and_problem(tmp_path, row, message):
    p = _csv(tmp_path, f"emotion,pixels,Usage\n0,{_row(5)},Training\n{row}\n1,{_row(6)},Training\n")
    with pytest.raises(BadRowError) as err:
        read_csv(p)
    assert str(p) in str(err.value) and message in str(err.value)


def test_skip_bad_rows_reports_them(tmp_path):
    p = _csv(tmp_path, f"emotion,pixels,Usage\n0,{_row(5)},Training\n3,1 2 x 4,Training\n"
                       f"1,{_row(6)},PublicTest\n")
    ds = read_csv(p, on_bad_rows="skip")
    assert ds.labels.tolist() == [0, 1]
    assert ds.usage.tolist() == ["Training", "PublicTest"]
    assert ds.problems == [(3, "non-integer token 'x'")]


def test_missing_pixels_column_and_unknown_usage(tmp_path):
    with pytest.raises(BadInputError, match="missing column 'pixels'"):
        read_csv(_csv(tmp_path, "emotion,Usage\n1,Training\n"))
    with pytest.raises(BadRowError, match="line 2: unknown Usage 'Holdout'"):
        read_csv(_csv(tmp_path, f"emotion,pixels,Usage\n1,{_row(1)},Holdout\n"))
    with pytest.raises(BadInputError, match="no such file"):
        read_csv(tmp_path / "nope.csv")


def test_non_square_needs_shape(tmp_path):
    p = _csv(tmp_path, "emotion,pixels,Usage\n1,1 2 3 4 5 6,Training\n")
    with pytest.raises(BadInputError, match="not a square image"):
        read_csv(p)
    assert read_csv(p, shape=(2, 3)).images.shape == (1, 2, 3)


def test_write_then_read_is_identity(tmp_path):
    rng = np.random.default_rng(1)
    ds = FERDataset.from_arrays(rng.integers(0, 256, (50, 48, 48), dtype=np.uint8),
                                rng.integers(0, 7, 50), usage=["Training"] * 30 + ["PublicTest"] * 20)
    for name in ("a.csv", "a.csv.gz"):
        path = write_csv(ds, tmp_path / name)
        back = read_csv(path)
        assert np.array_equal(back.images, ds.images)
        assert np.array_equal(back.labels, ds.labels)
        assert back.usage.tolist() == ds.usage.tolist()
    head = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert head == "emotion,pixels,Usage"
    assert gzip.decompress((tmp_path / "a.csv.gz").read_bytes()) == (tmp_path / "a.csv").read_bytes()


def test_unknown_labels_are_written_as_names_and_read_back(tmp_path):
    ds = FERDataset.from_arrays(np.zeros((3, 2, 2), np.uint8), ["happy", "confused", "contempt"])
    assert ds.label_names[7:] == ["contempt", "confused"]
    path = write_csv(ds, tmp_path / "n.csv")
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["happy", "confused", "contempt"]
    back = read_csv(path)
    assert [back.name_of(c) for c in back.labels] == ["happy", "confused", "contempt"]


def test_extra_columns_survive(tmp_path):
    p = _csv(tmp_path, f"emotion,pixels,Usage,subject\n1,{_row(1)},Training,s01\n2,{_row(2)},Training,s02\n")
    ds = read_csv(p)
    assert ds.extra["subject"].tolist() == ["s01", "s02"]
    out = write_csv(ds, tmp_path / "o.csv")
    assert out.read_text() == p.read_text()


def test_write_is_atomic_on_failure(tmp_path):
    ds = FERDataset.from_arrays(np.zeros((2, 2, 2), np.uint8), [1, 2])
    target = tmp_path / "keep.csv"
    target.write_text("precious")
    ds.labels[1] = 99  # no such label code: the writer fails mid-way
    with pytest.raises(IndexError):
        write_csv(ds, target)
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


def test_public_api_names():
    for name in ("read_csv", "write_csv", "folder_to_csv", "csv_to_folder", "split", "info",
                 "balance", "class_weights", "synth"):
        assert callable(getattr(fercsv, name))


@pytest.mark.parametrize("bad_row, compress", [(700, False), (650, True)])
def test_line_numbers_are_exact_deep_in_large_files(tmp_path, bad_row, compress):
    """Rows beyond the first read block still get their true line number."""
    rng = np.random.default_rng(0)
    ds = FERDataset.from_arrays(rng.integers(0, 256, (800, 48, 48), dtype=np.uint8), [3] * 800)
    good = write_csv(ds, tmp_path / "big.csv")
    lines = good.read_text().splitlines(keepends=True)
    lines[bad_row + 1] = lines[bad_row + 1].replace(" ", " x ", 1)
    text = "".join(lines).encode()
    path = tmp_path / ("bad.csv.gz" if compress else "bad.csv")
    path.write_bytes(gzip.compress(text) if compress else text)
    with pytest.raises(BadRowError, match=f"line {bad_row + 2}: non-integer token 'x'"):
        read_csv(path)
    lines[bad_row + 1] = "3,1 2 3,Training\n4,5\n"  # an extra line with too few fields, later on
    path.write_bytes("".join(lines).encode())
    with pytest.raises(BadRowError, match=f"line {bad_row + 3} has 2 fields, expected 3"):
        read_csv(path)
    assert np.array_equal(read_csv(good).images, ds.images)
