"""The pretrained models shipped in the package: present, described, honest, and usable without TensorFlow."""
import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fercsv
from fercsv.vision.faces import crop_face, detect_faces
from fercsv import pretrained
from fercsv.runtime.shipped import DEFAULT_PRETRAINED, PRETRAINED, model_card, pretrained_path


@pytest.mark.parametrize("name", list(PRETRAINED))
def test_shipped_model_matches_its_card(name):
    path = pretrained_path(name)
    card = model_card(name)
    assert path.stat().st_size < 5_000_000  # float16 weights; two models keep the wheel small
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["sha256"]
    model = pretrained(name)
    assert model.label_names == card["labels"]
    assert model.input_shape == (48, 48, 1)
    # every figure names its split, and the split that chose the model is not the reported one
    assert card["data"] == {**card["data"], "trained_on": "Training", "chosen_on": "PublicTest",
                            "reported_on": "PrivateTest"}
    assert 0 < card["accuracy"]["PrivateTest"]["accuracy"] <= 1
    assert card["command"] and card["seed"] == card["settings"]["seed"]
    assert "FER-2013" in card["licence"]
    probs = model.predict(np.zeros((2, 48, 48, 1), np.float32))
    assert probs.shape == (2, len(card["labels"])) and np.allclose(probs.sum(1), 1, atol=1e-3)


def test_labels_of_the_two_models():
    assert pretrained("fer2013").label_names == list(fercsv.FER2013_LABELS)
    assert pretrained("pretrained:ferplus").label_names == list(fercsv.FER2013_LABELS) + ["contempt"]


@pytest.mark.parametrize("name", list(PRETRAINED))
def test_a_real_smiling_face_reads_as_happy(name, astronaut_bgr):
    """skimage's astronaut photo (Eileen Collins, smiling): detect, crop as in predict, classify."""
    boxes = detect_faces(astronaut_bgr)
    face = crop_face(astronaut_bgr, boxes[0])
    probs = pretrained(name).predict(face[None, ..., None].astype(np.float32) / 255.0)[0]
    labels = pretrained(name).label_names
    assert labels[int(probs.argmax())] == "happy", dict(zip(labels, probs.round(3)))


def test_unknown_name_is_one_line_with_the_choices():
    with pytest.raises(fercsv.BadInputError, match="no pretrained model named 'vgg'; choose one of fer2013, ferplus"):
        pretrained("vgg")


def test_prediction_with_a_shipped_model_never_imports_tensorflow(tmp_path, astronaut_bgr):
    """What `pip install "fercsv[predict]"` gives: onnxruntime, no TensorFlow (blocked here)."""
    import cv2

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), astronaut_bgr)
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "matplotlib"):
                    raise ImportError(f"blocked: {{name}}")
        sys.meta_path.insert(0, Block())
        import cv2, numpy as np, fercsv
        from fercsv.vision.faces import crop_face, detect_faces
        model = fercsv.pretrained()
        img = cv2.imread({str(photo)!r})
        face = crop_face(img, detect_faces(img)[0])
        probs = model.predict(face[None, ..., None].astype(np.float32) / 255.0)[0]
        print(model.label_names[int(probs.argmax())])
        assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in fercsv.FER2013_LABELS


def test_default_is_the_fer2013_model():
    assert DEFAULT_PRETRAINED == "fer2013" and pretrained_path().name == "fer2013.onnx"
    assert json.loads(pretrained_path().with_suffix(".json").read_text())["name"] == "fer2013"
