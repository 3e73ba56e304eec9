"""CI executes the whole starter notebook as Colab would: IN_COLAB is true (the stand-in google.colab),
the install is skipped by its setting, Drive is on, FER-2013 comes from a local stand-in of Kaggle's
API, training is small, and take_photo and webcam_emotions run against Chromium's fake camera."""
import io
import json
import os
import re
import zipfile
from pathlib import Path

import cv2
import nbformat
import pytest
from nbclient import NotebookClient

import fercsv
from fakecolab_env import FAKECOLAB, astronaut_camera
from kaggle_standin import KaggleStandIn

NOTEBOOK = Path(__file__).resolve().parents[1] / "colab" / "fercsv_starter.ipynb"


def set_setting(nb, name, value):
    """Change one ``NAME = ...`` setting line, as a user edits the notebook."""
    pattern = re.compile(rf"^{name} = .*$", re.M)
    hits = [c for c in nb.cells if c.cell_type == "code" and pattern.search(c.source)]
    assert len(hits) == 1, f"setting {name} must appear in exactly one cell"
    hits[0].source = pattern.sub(f"{name} = {value!r}", hits[0].source, count=1)


def kaggle_fer2013_zip(per_class=14):
    """A zip laid out as Kaggle's msambare/fer2013: train/<label>/Training_<n>.jpg, test/<label>/..."""
    ds = fercsv.synth_dataset(per_class=per_class, seed=3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (img, code, usage) in enumerate(zip(ds.images, ds.labels, ds.usage)):
            folder = "train" if usage == "Training" else "test"
            ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            z.writestr(f"{folder}/{ds.label_names[code]}/{usage}_{1000 + i}.jpg", jpg.tobytes())
    return buf.getvalue(), len(ds)


def outputs(nb):
    text = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            text.append(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.browser
def test_starter_notebook_runs_as_in_colab(tmp_path, monkeypatch, astronaut_bgr):
    content, drive = tmp_path / "content", tmp_path / "my-drive"
    content.mkdir()
    drive.mkdir()
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "0123456789abcdef"}))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    data, n_images = kaggle_fer2013_zip()
    with KaggleStandIn({"msambare/fer2013": data}) as kaggle:
        env = {"PYTHONPATH": os.pathsep.join([str(FAKECOLAB), os.environ.get("PYTHONPATH", "")]),
               "FAKECOLAB_CAMERA": str(astronaut_camera(tmp_path / "cam.y4m", astronaut_bgr)),
               "FAKECOLAB_STOP": "3:button", "FAKECOLAB_DRIVE": str(drive), "FAKECOLAB_SECRETS": str(secrets),
               "FERCSV_KAGGLE_API": kaggle.api, "KAGGLE_CONFIG_DIR": str(tmp_path / "no-kaggle-json"),
               "FERCSV_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        set_setting(nb, "INSTALL", "skip")
        set_setting(nb, "USE_DRIVE", True)
        set_setting(nb, "SMALL", True)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(content)}}).execute()
        nbformat.write(nb, tmp_path / "executed.ipynb")  # kept for reading when this test fails
        downloads = [p for p, _ in kaggle.requests if p.startswith("/api/v1/datasets/download/msambare/fer2013")]
    text = outputs(nb)
    (tmp_path / "outputs.txt").write_text(text)
    assert "Colab: yes" in text and "fercsv " in text                      # the runtime report
    assert "skipped" not in text and "Drive not used" not in text           # every Colab branch ran
    assert f"Mounted at {content / 'drive'}" in text
    assert len(downloads) == 1                                               # Kaggle, through the stand-in
    assert f"wrote {n_images} images from" in text                           # the zip converted in place
    work = drive / "fercsv"                                                   # results landed on "Drive"
    assert (work / "downloads" / "fer2013.zip").read_bytes() == data
    assert (work / "fer2013.csv").is_file() and (work / "run").is_dir() and (work / "fer.onnx").is_file()
    assert "accuracy" in text and "max |ONNX - Keras float32|" in text
    assert cv2.imread(str(work / "webcam.jpg")).shape == (480, 640, 3)      # take_photo, fake camera
    assert re.search(r"FacePrediction\(box=", text)                          # a face found in the photo
    assert re.search(r"\d+ frames in [\d.]+ s \([\d.]+ frames/s\), \d+ with a face", text)  # webcam
    images = sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
                 for c in nb.cells for o in c.get("outputs", []))
    assert images >= 5  # samples, curves, confusion, annotated photo, annotated webcam shot


def test_face_model_prefers_real_training_then_the_pretrained_model():
    assert fercsv.colab.face_model("run", trained_on_real_data=True) == \
        ("run", "using the model trained in this notebook on real faces")
    try:
        fercsv.pretrained.path()
    except fercsv.BadInputError:
        model, note = fercsv.colab.face_model("run", trained_on_real_data=False)
        assert model == "run" and "trained on synthetic faces and cannot read real faces" in note
        with pytest.raises(fercsv.BadInputError, match="pretrained model"):
            fercsv.colab.face_model(None)
    else:
        model, note = fercsv.colab.face_model("run", trained_on_real_data=False)
        assert model != "run" and "pretrained" in note


def test_notebook_is_built_from_its_builder():
    import subprocess
    import sys

    before = NOTEBOOK.read_text()
    done = subprocess.run([sys.executable, str(NOTEBOOK.parent / "build_notebook.py")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert NOTEBOOK.read_text() == before, "colab/fercsv_starter.ipynb is stale: run colab/build_notebook.py"
