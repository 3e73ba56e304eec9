import cv2
import numpy as np
import pytest

import fercsv
from fercsv import FercsvError, read_csv
from fercsv.vision import faces


def test_detects_the_astronaut(astronaut_bgr):
    boxes = faces.detect_faces(astronaut_bgr)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 150 < x + w / 2 < 260 and 60 < y + h / 2 < 160 and 60 < w < 160  # her face, not the flag
    rgb = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2RGB)
    assert faces.detect_faces(rgb, color_order="RGB") == boxes
    big = cv2.resize(astronaut_bgr, (1024, 1024))
    bx = faces.detect_faces(big)[0]
    assert abs(bx[0] - 2 * x) < 20 and abs(bx[2] - 2 * w) < 30  # searched small, boxes scaled back


def test_crop_is_square_gray_and_padded_at_borders(astronaut_bgr):
    box = faces.detect_faces(astronaut_bgr)[0]
    crop = faces.crop_face(astronaut_bgr, box)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    assert faces.crop_face(astronaut_bgr, box, size=64, equalize=True).shape == (64, 64)
    corner = faces.crop_face(astronaut_bgr, (0, 0, 100, 100), margin=0.5)
    assert corner.shape == (48, 48)


def test_missing_cascade_error_names_version_and_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path))
    monkeypatch.setattr(faces, "CASCADE_FILE", "nope.xml")
    with pytest.raises(FercsvError) as err:
        faces.cascade_path()
    assert cv2.__version__ in str(err.value) and "opencv-python-headless>=4.6,<5" in str(err.value)


def test_convert_faces_crops_and_reports_photos_without_faces(astronaut_bgr, tmp_path):
    src = tmp_path / "photos" / "happy"
    src.mkdir(parents=True)
    cv2.imwrite(str(src / "astronaut.png"), astronaut_bgr)
    cv2.imwrite(str(src / "wall.png"), np.full((200, 200, 3), 90, np.uint8))
    report = fercsv.folder_to_csv(tmp_path / "photos", tmp_path / "f.csv",
                                  preprocess=faces.face_preprocessor())
    assert report.rows == 1
    assert [(p.split("/")[-1], r) for p, r in report.skipped] == [("wall.png", "no face found")]
    face = read_csv(tmp_path / "f.csv").images[0]
    box = faces.detect_faces(astronaut_bgr)[0]
    assert np.array_equal(face, faces.crop_face(astronaut_bgr, box))
    from helpers import run_cli

    r = run_cli("convert", tmp_path / "photos", tmp_path / "k.csv", "--faces", "--no-face", "keep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(read_csv(tmp_path / "k.csv")) == 2
