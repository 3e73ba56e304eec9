import numpy as np
import pytest

from fercsv.data import pixels


def test_round_trip_random_images():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 48, 48), dtype=np.uint8)
    x[0] = 0
    x[1] = 255
    rows = pixels.encode_rows(x)
    assert rows[0] == " ".join(["0"] * 2304)
    assert rows[2] == " ".join(map(str, x[2].ravel()))
    images, good, problems = pixels.decode(rows)
    assert problems == {}
    assert good.tolist() == list(range(300))
    assert np.array_equal(images.reshape(x.shape), x)


def test_decode_accepts_irregular_whitespace():
    images, _, problems = pixels.decode(["1  2\t3 ", " 4 5 6", "7 8 9\r"])
    assert problems == {}
    assert images.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


@pytest.mark.parametrize("bad, reason", [
    ("1 2", "has 2 pixel values, expected 3"),
    ("1 2 3 4", "has 4 pixel values, expected 3"),
    ("1 x 3", "non-integer token 'x'"),
    ("1 2.5 3", "non-integer token '2.5'"),
    ("1 -2 3", "non-integer token '-2'"),
    ("1 256 3", "value 256 is out of range 0..255"),
    ("1 9999 3", "value 9999 is out of range 0..255"),
    (None, "pixels are missing"),
])
def test_decode_names_each_bad_row(bad, reason):
    images, good, problems = pixels.decode(["10 20 30", bad, "40 50 60"])
    assert problems == {1: reason}
    assert good.tolist() == [0, 2]
    assert images.tolist() == [[10, 20, 30], [40, 50, 60]]


def test_decode_spans_reads_fields_in_place():
    data = np.frombuffer(b"emotion,pixels,Usage\n3,0 12 255 7,Training\n5,1 1 1 1,PublicTest\n", np.uint8)
    images, good, problems = pixels.decode_spans(data, [23, 45], [33, 52])
    assert problems == {}
    assert images.tolist() == [[0, 12, 255, 7], [1, 1, 1, 1]]
