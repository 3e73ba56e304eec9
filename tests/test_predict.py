import json

import cv2
import numpy as np
import pandas as pd
import pytest

import fercsv
from fercsv.runtime.loading import load_model
from fercsv.serve.predict import annotate, predict
from helpers import run_cli, write_video

pytestmark = pytest.mark.tensorflow


def test_predict_photo_any_color_order(tiny_run, astronaut_bgr):
    model = load_model(tiny_run)
    out = predict(model, astronaut_bgr)
    assert len(out) == 1
    p = out[0]
    assert p.box == tuple(fercsv.vision.faces.detect_faces(astronaut_bgr)[0])
    assert p.label in fercsv.FER2013_LABELS and p.label == max(p.probabilities, key=p.probabilities.get)
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    rgb = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2RGB)
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    for image, order in ((rgb, "RGB"), (gray, "BGR")):
        q = predict(model, image, color_order=order)[0]
        assert q.box == p.box and q.label == p.label
        np.testing.assert_allclose(list(q.probabilities.values()), list(p.probabilities.values()), atol=1e-5)


def test_predict_cropped_faces_without_detection(tiny_run, synth_csv):
    ds = fercsv.read_csv(synth_csv).subset("PrivateTest")
    model = load_model(tiny_run)
    out = predict(model, ds.images[0], detect=False)
    assert len(out) == 1 and out[0].box is None
    direct = model.predict(ds.images[:1, :, :, None] / 255.0)[0]
    np.testing.assert_allclose(list(out[0].probabilities.values()), direct, atol=1e-6)


def test_no_retrace_after_first_call(tiny_run, astronaut_bgr):
    model = load_model(tiny_run)
    for n in (1, 3, 1, 5, 1, 2, 1, 1, 4, 1):
        model.predict(np.zeros((n, 48, 48, 1), np.float32))
    assert model._fn.experimental_get_tracing_count() == 1


def test_predict_cli_writes_annotated_images_and_tables(tiny_run, astronaut_bgr, tmp_path):
    cv2.imwrite(str(tmp_path / "astro.jpg"), astronaut_bgr)
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((120, 120), 128, np.uint8))
    r = run_cli("predict", tiny_run, tmp_path / "astro.jpg", tmp_path / "blank.png", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "blank.png: no face found" in r.stdout
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(table) == 2 and set(table.columns) >= {"file", "box", "label", "score", "p_happy"}
    rows = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert rows[0]["label"] in fercsv.FER2013_LABELS
    drawn = cv2.imread(str(tmp_path / "out" / "astro_pred.png"))
    source = cv2.imread(str(tmp_path / "astro.jpg"))
    assert drawn.shape == source.shape and not np.array_equal(drawn, source)
    assert (np.abs(drawn.astype(int) - source).sum(2) > 0).mean() < 0.2  # a box and a label only


def test_annotate_draws_label_text():
    pred = fercsv.serve.predict.FacePrediction((10, 40, 80, 80), "happy", 0.87, {"happy": 0.87})
    img = annotate(np.zeros((150, 150), np.uint8), [pred])
    assert img.shape == (150, 150, 3)
    assert img[40, 10:90].any() and img[20:40, 10:60].any()  # box edge and label background




def test_video_prediction_and_frames(tiny_run, astronaut_bgr, tmp_path):
    frame = cv2.resize(astronaut_bgr, (320, 320))
    frames = [frame] * 8 + [np.full_like(frame, 40)] * 2
    write_video(tmp_path / "clip.mp4", frames)
    from fercsv.serve.video import aggregate, predict_video

    result = predict_video(tiny_run, tmp_path / "clip.mp4", tmp_path / "out", aggregate_by="mean")
    assert result.frames == 10 and result.frames_with_face == 8
    assert result.label in fercsv.FER2013_LABELS and result.label == max(result.scores, key=result.scores.get)
    table = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert sorted(set(table["frame"])) == list(range(8))
    cap = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    r = run_cli("frames", tmp_path / "clip.mp4", tmp_path / "frames", "--every", "2")
    assert r.returncode == 0 and "wrote 5 frames" in r.stdout
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 5
    r = run_cli("predict", tiny_run, tmp_path / "clip.mp4", "--out", tmp_path / "v", "--second-half")
    assert r.returncode == 0, r.stderr
    assert "video emotion:" in r.stdout and "second half" in r.stdout
    # aggregation rules on hand-made predictions
    P = fercsv.serve.predict.FacePrediction
    seq = [P(None, "neutral", 0.9, {"neutral": 0.9, "happy": 0.1})] * 3 + \
        [P(None, "happy", 0.6, {"neutral": 0.4, "happy": 0.6})] * 2
    assert aggregate(seq, ["neutral", "happy"], method="vote")[0] == "neutral"
    assert aggregate(seq, ["neutral", "happy"], method="vote", second_half=True)[0] == "happy"
    assert aggregate(seq, ["neutral", "happy"], method="mean")[0] == "neutral"


def test_bad_model_inputs(tmp_path):
    (tmp_path / "x.keras").write_text("not a zip")
    with pytest.raises(fercsv.BadInputError, match="cannot load as a Keras model"):
        load_model(tmp_path / "x.keras")
    (tmp_path / "run").mkdir()
    with pytest.raises(fercsv.BadInputError, match="no best.keras"):
        load_model(tmp_path / "run")


def _photo_tree(root, astronaut_bgr):
    """photos/a/x.jpg, photos/a/x.png (same stem), photos/b/x.jpg (same name), a corrupt file, a blank."""
    small = cv2.resize(astronaut_bgr, (256, 256))
    (root / "photos" / "a").mkdir(parents=True)
    cv2.imwrite(str(root / "photos" / "a" / "x.jpg"), small)
    cv2.imwrite(str(root / "photos" / "a" / "x.png"), small)
    (root / "photos" / "b").mkdir()
    cv2.imwrite(str(root / "photos" / "b" / "x.jpg"), cv2.flip(small, 1))
    (root / "photos" / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    cv2.imwrite(str(root / "photos" / "b" / "blank.png"), np.full((90, 90, 3), 128, np.uint8))
    (root / "photos" / "notes.txt").write_text("not an image")
    return root / "photos"


def test_batch_over_folder_and_glob_carries_on_and_mirrors_the_tree(tiny_run, astronaut_bgr, tmp_path):
    from fercsv.serve.batch import predict_paths

    photos = _photo_tree(tmp_path, astronaut_bgr)
    cv2.imwrite(str(tmp_path / "x.jpg"), astronaut_bgr)  # a loose file whose name collides with the tree's
    said = []
    report = predict_paths([photos, str(tmp_path / "*.jpg"), tmp_path / "missing.png"], model=tiny_run,
                           out_dir=tmp_path / "out", out=said.append)
    assert report.predicted == 5 and report.no_face == [str(photos / "b" / "blank.png")]
    assert set(report.skipped) == {str(photos / "b" / "broken.jpg"), str(tmp_path / "missing.png")}
    out = tmp_path / "out"
    drawn = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert drawn == ["photos/a/x_pred.png", "photos/a/x_pred_2.png", "photos/b/blank_pred.png",
                     "photos/b/x_pred.png", "x_pred.png"]
    table = pd.read_csv(out / "predictions.csv")
    assert sorted(set(table["file"])) == sorted(str(p) for p in (
        photos / "a" / "x.jpg", photos / "a" / "x.png", photos / "b" / "x.jpg", photos / "b" / "blank.png",
        tmp_path / "x.jpg"))
    assert table["annotated"].is_unique or len(table) > table["file"].nunique()
    assert any("broken.jpg: skipped" in s for s in said)
    rows = json.loads((out / "predictions.json").read_text())
    assert len(rows) == len(table) and rows[0]["probabilities"].keys() == set(fercsv.FER2013_LABELS)


def test_batch_writes_as_it_goes_and_resumes(tiny_run, astronaut_bgr, tmp_path):
    from fercsv.serve.batch import predict_paths

    photos = _photo_tree(tmp_path, astronaut_bgr)
    seen = []

    def stop_after_two(message):
        seen.append(message)
        if len(seen) == 2:
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the batch

    with pytest.raises(KeyboardInterrupt):
        predict_paths([photos], model=tiny_run, out_dir=tmp_path / "out", out=stop_after_two)
    first = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert first["file"].nunique() == 1  # the first file's rows were flushed before the second was shown
    r = run_cli("predict", tiny_run, photos, "--out", tmp_path / "out", "--resume")
    assert r.returncode == 0, r.stderr
    assert "1 already done before this run" in r.stdout and "skipped 1 unreadable" in r.stdout
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert table["file"].nunique() == 4 and not table.duplicated(["file", "face"]).any()
    assert table[table["file"] == first["file"][0]].equals(first.reset_index(drop=True))


def test_onnx_prediction_needs_no_tensorflow(tiny_run, astronaut_bgr, tmp_path):
    """With TensorFlow blocked, an ONNX model (and the pretrained default) predicts photos via the CLI."""
    import shutil
    import subprocess
    import sys

    from fercsv.export import export_onnx
    from helpers import blocking

    export_onnx(tiny_run, tmp_path / "model.onnx")
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(tmp_path / "model.onnx", weights / "fer2013.onnx")
    (weights / "fer2013.json").write_text(json.dumps({"labels": list(fercsv.FER2013_LABELS)}))
    cv2.imwrite(str(tmp_path / "astro.jpg"), astronaut_bgr)
    script = blocking(("tensorflow", "keras", "tf2onnx", "matplotlib"), f"""
        import pathlib
        import fercsv.runtime.shipped
        from fercsv.cli import main
        assert main(['predict', r'{tmp_path / "model.onnx"}', r'{tmp_path / "astro.jpg"}',
                     '--out', r'{tmp_path / "o1"}']) == 0
        fercsv.runtime.shipped._folder = lambda: pathlib.Path(r'{weights}')
        assert main(['predict', r'{tmp_path / "astro.jpg"}', '--out', r'{tmp_path / "o2"}']) == 0
        assert not any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules)
        print('onnx-ok')
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0 and "onnx-ok" in r.stdout, r.stderr
    a = pd.read_csv(tmp_path / "o1" / "predictions.csv")
    b = pd.read_csv(tmp_path / "o2" / "predictions.csv")
    assert a["label"].tolist() == b["label"].tolist() and a["box"].tolist() == b["box"].tolist()
    keras_label = predict(load_model(tiny_run), astronaut_bgr)[0].label
    assert a["label"][0] == keras_label


def test_one_input_contract_for_every_runtime(tiny_run, tmp_path):
    from fercsv.export import export_onnx, export_tflite
    from fercsv.runtime.contract import to_input

    export_onnx(tiny_run, tmp_path / "nchw.onnx", nchw=True)
    export_tflite(tiny_run, tmp_path / "m.tflite")
    faces = fercsv.synth_dataset(per_class=2).images[:6]
    models = [load_model(p) for p in (tiny_run, tmp_path / "nchw.onnx", tmp_path / "m.tflite")]
    assert [m.kind for m in models] == ["keras", "onnx", "tflite"]
    assert models[1].nchw and models[0].input_shape == models[1].input_shape == models[2].input_shape
    reference = models[1].predict(to_input(faces))  # float32 graph, NCHW
    np.testing.assert_allclose(models[2].predict(faces), reference, atol=1e-4)  # uint8 in, same contract
    # The Keras model may compute in bfloat16 (auto precision on AMX CPUs); exports are float32.
    np.testing.assert_allclose(models[0].predict(faces), reference, atol=5e-3)
    for m in models:
        assert m.label_names == list(fercsv.FER2013_LABELS)
