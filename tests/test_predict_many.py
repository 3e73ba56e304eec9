"""fercsv.predict on many inputs at once: lists, (N, H, W[, C]) batches, globs and folders, with the
shipped pretrained model on the astronaut's real face (onnxruntime; no TensorFlow needed)."""
import cv2
import numpy as np
import pytest

import fercsv
from fercsv.vision.faces import crop_face, detect_faces


@pytest.fixture(scope="module")
def model():
    return fercsv.pretrained("fer2013")


@pytest.fixture(scope="module")
def faces(astronaut_bgr):
    """30 different grey 48x48 crops of one real face: shifted, zoomed and mirrored."""
    (x, y, w, h), = detect_faces(astronaut_bgr)
    out = []
    for dx in (-6, 0, 6):
        for scale in (0.9, 1.0, 1.1, 1.2, 1.3):
            box = (x + dx, y, int(w * scale), int(h * scale))
            face = crop_face(astronaut_bgr, box, size=48)
            out += [face, face[:, ::-1].copy()]
    return out


def test_a_list_of_faces_gives_one_prediction_each_as_one_at_a_time_does(model, faces):
    many = fercsv.predict(model, faces, detect=False)
    assert len(many) == len(faces) and all(isinstance(p, fercsv.FacePrediction) for p in many)
    for face, p in zip(faces, many):
        one, = fercsv.predict(model, face, detect=False)
        assert p.label == one.label and p.box is None and p.source is None
        assert p.probabilities == pytest.approx(one.probabilities, abs=1e-5)
    assert len({p.score for p in many}) > 10  # different crops, different answers


@pytest.mark.parametrize("shape", ["NHW", "NHW1", "tuple"])
def test_a_batch_array_is_read_as_many_faces(model, faces, shape):
    batch = np.stack(faces)
    x = {"NHW": batch, "NHW1": batch[..., None], "tuple": tuple(faces)}[shape]
    got = fercsv.predict(model, x, detect=False)
    want = fercsv.predict(model, faces, detect=False)
    assert [p.label for p in got] == [p.label for p in want]
    assert [p.score for p in got] == pytest.approx([p.score for p in want], abs=1e-6)


def test_photos_with_detection_give_a_list_of_faces_per_photo(model, astronaut_bgr, tmp_path):
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), astronaut_bgr)
    blank = np.full((200, 200, 3), 90, np.uint8)
    got = fercsv.predict(model, [str(tmp_path / "b.png"), blank, astronaut_bgr[:, ::-1]])
    assert [len(faces) for faces in got] == [1, 0, 1]
    assert got[0][0].source == str(tmp_path / "b.png") and got[2][0].source is None
    # a glob and a folder: one entry per file, in sorted order, each face knowing its file
    for spec in (str(tmp_path / "*.*"), tmp_path):
        per_file = fercsv.predict(model, spec)
        assert [faces[0].source for faces in per_file] == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png")]
    # one photo is still one list of faces, as before
    one = fercsv.predict(model, str(tmp_path / "b.png"))
    assert len(one) == 1 and one[0].box == got[0][0].box and one[0].label == got[0][0].label


def test_a_bad_member_is_named_and_an_empty_list_refused(model, faces, tmp_path):
    with pytest.raises(fercsv.BadImageError, match=r"^image 2: cannot use an image with 7 channels"):
        fercsv.predict(model, [faces[0], faces[1], np.zeros((9, 9, 7), np.uint8)], detect=False)
    with pytest.raises(fercsv.BadInputError, match="the list of images is empty"):
        fercsv.predict(model, [], detect=False)
    with pytest.raises(fercsv.BadInputError, match="no image file matches this pattern"):
        fercsv.predict(model, str(tmp_path / "*.jpg"))
