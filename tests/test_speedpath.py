"""The fast paths of convert and read_csv give the same bytes and arrays as the plain ways.

Correctness only: no test here measures time. Worker processes, threads and a single worker
must agree byte for byte, whatever the block and batch boundaries.
"""
import gzip
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import fercsv
from fercsv import BadImageError, BadRowError
from fercsv.core import parallel
from fercsv.data import convert, csvscan, dataset, pixels
from fercsv.data.labels import known_code

from helpers import face, write_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _join(img):
    return " ".join(map(str, img.ravel().tolist()))


# -- the pixel codec -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 2, 2), (3, 48, 48), (130, 16, 16), (64, 4, 4), (65, 2, 2), (0, 48, 48)])
def test_encode_lines_equals_join_for_every_value(shape):
    rng = np.random.default_rng(shape[0])
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    if len(x):
        x.reshape(-1)[:256] = np.arange(min(256, x.size))  # every value 0..255 appears
    heads, tails = [b"0,", b"happy,", b""], [b",Training\n", b",PublicTest,subject 7\n"]
    head_of, tail_of = rng.integers(0, 3, len(x)), rng.integers(0, 2, len(x))
    expected = b"".join(heads[h] + _join(img).encode() + tails[t] for img, h, t in zip(x, head_of, tail_of))
    got = pixels.encode_lines(x, heads=heads, head_of=head_of, tails=tails, tail_of=tail_of)
    assert bytes(got) == expected
    out = bytearray(pixels.encoded_size(len(x), int(np.prod(shape[1:])), heads, tails))
    n = pixels.encode_lines(x, heads=heads, head_of=head_of, tails=tails, tail_of=tail_of, out=out)
    assert bytes(out[:n]) == expected


def test_encode_lines_falls_back_for_odd_rows_and_nul_cells():
    x = np.arange(15, dtype=np.uint8).reshape(1, 3, 5)  # 15 values: no pairs table
    assert bytes(pixels.encode_lines(x, heads=[b"a\0,"])) == b"a\0," + _join(x[0]).encode() + b"\n"


def test_encode_keeps_its_buffer_and_offsets_contract():
    x = np.random.default_rng(1).integers(0, 256, (5, 3, 3), dtype=np.uint8)
    buf, off = pixels.encode(x)
    assert [buf[off[i]:off[i + 1] - 1].decode() for i in range(5)] == [_join(img) for img in x]


# -- read_csv -------------------------------------------------------------------------------


def _fer_text(x, labels, usage, newline="\n"):
    rows = [f"{y},{_join(img)},{u}" for img, y, u in zip(x, labels, usage)]
    return ("emotion,pixels,Usage" + newline + newline.join(rows) + newline).encode()


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 KB: a small file crosses many block boundaries and reuses the read buffers."""
    monkeypatch.setattr(csvscan, "BLOCK_BYTES", 4096)
    real = csvscan.iter_blocks
    monkeypatch.setattr(dataset, "iter_blocks", lambda fh, **kw: real(fh, **{**kw, "block_bytes": 4096}))


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_read_csv_equals_per_row_split_across_blocks(tmp_path, small_blocks, workers, newline):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (300, 12, 12), dtype=np.uint8)
    labels, usage = rng.integers(0, 7, 300), rng.choice(["Training", "PublicTest", "PrivateTest"], 300)
    path = tmp_path / "f.csv"
    path.write_bytes(_fer_text(x, labels, usage, newline))
    ds = fercsv.read_csv(path, workers=workers)
    assert np.array_equal(ds.images, x)
    assert ds.labels.tolist() == labels.tolist() and ds.usage.tolist() == usage.tolist()
    gz = tmp_path / "f.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert np.array_equal(fercsv.read_csv(gz, workers=workers).images, x)


def test_read_csv_names_the_right_line_in_a_later_block(tmp_path, small_blocks):
    x = np.zeros((200, 8, 8), np.uint8)
    text = _fer_text(x, [0] * 200, ["Training"] * 200).decode().split("\n")
    text[151] = text[151].replace(" 0", " 0 0", 1)  # data row 151 sits on file line 152
    text[181] = "3,1 2,Training,extra"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(text))
    with pytest.raises(BadRowError, match=r"line 182 has 4 fields, expected 3") as info:
        fercsv.read_csv(path, workers=2)
    assert info.value.line == 182
    text[181] = text[180]
    path.write_text("\n".join(text))
    with pytest.raises(BadRowError, match=r"line 152: has 65 pixel values, expected 64"):
        fercsv.read_csv(path, workers=2)
    ds = fercsv.read_csv(path, workers=2, on_bad_rows="skip")
    assert len(ds) == 199 and ds.problems == [(152, "has 65 pixel values, expected 64")]


def test_read_csv_image_array_grows_past_a_short_size_guess(tmp_path, small_blocks, monkeypatch):
    x = np.random.default_rng(3).integers(0, 256, (500, 6, 6), dtype=np.uint8)
    path = tmp_path / "f.csv"
    path.write_bytes(_fer_text(x, [1] * 500, ["Training"] * 500))
    monkeypatch.setattr(dataset, "_size_hint", lambda path: 5000)  # far too small
    assert np.array_equal(fercsv.read_csv(path, workers=2).images, x)


def test_a_long_line_longer_than_a_block(tmp_path, small_blocks):
    x = np.random.default_rng(4).integers(0, 256, (3, 64, 64), dtype=np.uint8)  # rows of ~15 KB
    path = tmp_path / "f.csv"
    path.write_bytes(_fer_text(x, [1, 2, 3], ["Training"] * 3).rstrip(b"\n"))  # no final newline
    assert np.array_equal(fercsv.read_csv(path, workers=2).images, x)


# -- folder -> CSV ----------------------------------------------------------------------------


@pytest.fixture
def faces_folder(tmp_path):
    """A FER-style folder of 48x48 JPEGs and PNGs with Kaggle prefixes, plus bad and odd files."""
    root = tmp_path / "faces"
    k = 0
    for split, labels in (("train", ("angry", "happy", "sad")), ("test", ("happy", "neutral"))):
        for label in labels:
            for i in range(40):
                k += 1
                prefix = "Training" if split == "train" else ("PublicTest" if i % 2 else "PrivateTest")
                ext = ".jpg" if i % 3 else ".png"
                write_image(root / split / label / f"{prefix}_{k}{ext}", face(k, label if label != "neutral" else "sad"))
    write_image(root / "train" / "happy" / "big.png", face(999, "happy", size=100))  # resized
    bad = root / "train" / "sad"
    (bad / "Training_empty.png").write_bytes(b"")
    (bad / "Training_garbage.jpg").write_bytes(os.urandom(200))
    os.symlink(tmp_path / "missing.png", bad / "Training_dangling.png")
    (bad / "notes.txt").write_text("ignored")
    return root


def _convert_with(monkeypatch, tmp_path, folder, name, *, processes, workers, batch, **options):
    monkeypatch.setattr(convert, "_PROCESS_MIN", 0 if processes else 1 << 60)
    monkeypatch.setattr(convert, "_BATCH", batch)
    report = fercsv.folder_to_csv(folder, tmp_path / name, workers=workers, **options)
    return (tmp_path / name).read_bytes(), report


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_processes_threads_and_one_worker_write_the_same_bytes(monkeypatch, tmp_path, faces_folder, suffix):
    runs = [_convert_with(monkeypatch, tmp_path, faces_folder, f"{i}{suffix}", **how) for i, how in enumerate([
        dict(processes=True, workers=2, batch=7), dict(processes=True, workers=3, batch=256),
        dict(processes=False, workers=2, batch=5), dict(processes=False, workers=1, batch=256)])]
    first, report = runs[0]
    assert all(data == first for data, _ in runs)
    assert all(r.skipped == report.skipped and r.counts == report.counts for _, r in runs)
    assert report.rows == 201 and len(report.skipped) == 3 and len(report.ignored) == 1
    text = gzip.decompress(first) if suffix.endswith(".gz") else first
    assert text.startswith(b"emotion,pixels,Usage\n") and text.count(b"\n") == 202


def test_processes_write_what_the_plain_loop_writes(monkeypatch, tmp_path, faces_folder):
    data, _ = _convert_with(monkeypatch, tmp_path, faces_folder, "fast.csv", processes=True, workers=2, batch=16)
    entries, _ = convert.discover(faces_folder)
    lines = [b"emotion,pixels,Usage"]
    for e in entries:
        img = cv2.imread(e.path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA) if img.shape != (48, 48) else img
        lines.append(f"{known_code(e.label)},{' '.join(map(str, img.flatten()))},{e.usage}".encode())
    assert data == b"\n".join(lines) + b"\n"


def test_strict_in_worker_processes_names_the_first_bad_file(monkeypatch, tmp_path, faces_folder):
    with pytest.raises(BadImageError, match="Training_dangling.png: cannot read file") as info:
        _convert_with(monkeypatch, tmp_path, faces_folder, "o.csv", processes=True, workers=2, batch=8, strict=True)
    assert info.value.reason == "unreadable file"
    assert not list(tmp_path.glob("*o.csv*"))


def test_read_folder_in_worker_processes(monkeypatch, faces_folder):
    monkeypatch.setattr(convert, "_PROCESS_MIN", 0)
    fast = fercsv.read_folder(faces_folder, workers=2)
    monkeypatch.setattr(convert, "_PROCESS_MIN", 1 << 60)
    slow = fercsv.read_folder(faces_folder, workers=1)
    assert np.array_equal(fast.images, slow.images) and fast.extra["file"].tolist() == slow.extra["file"].tolist()


@pytest.mark.skipif(not (SHARED / "fer2013.csv.gz").is_file(), reason="needs ../shared/data/fer2013.csv.gz")
def test_real_fer2013_csv_reads_as_the_per_row_split(tmp_path):
    with gzip.open(SHARED / "fer2013.csv.gz", "rb") as fh:
        head = b"".join(fh.readline() for _ in range(3001))
    (tmp_path / "fer.csv").write_bytes(head)
    ds = fercsv.read_csv(tmp_path / "fer.csv", workers=2)
    rows = head.decode().splitlines()[1:]
    expected = np.array([row.split(",")[1].split() for row in rows], dtype=np.uint8).reshape(-1, 48, 48)
    assert np.array_equal(ds.images, expected)
    fercsv.write_csv(ds, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == head  # the real file, byte for byte


# -- the parallel map -----------------------------------------------------------------------


def test_ordered_map_in_processes_keeps_order_and_raises_errors():
    offset = 10  # a closure: workers inherit it through fork, nothing pickles it
    assert list(parallel.ordered_map(lambda x: x + offset, range(50), workers=2, processes=True)) == \
        list(range(10, 60))

    def boom(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        list(parallel.ordered_map(boom, range(20), workers=2, processes=True))


def test_ordered_map_closed_half_way_stops_its_workers():
    results = parallel.ordered_map(lambda x: x, range(1000), workers=2, processes=True, ahead=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()  # returns: queued work is cancelled, the pool shut down
    assert not parallel._FORKED
