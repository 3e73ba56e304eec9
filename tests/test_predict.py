import json

import cv2
import numpy as np
import pandas as pd
import pytest

import fercsv
from fercsv.modelio import load_model
from fercsv.prediction import annotate, predict
from helpers import run_cli

pytestmark = pytest.mark.tensorflow


def test_predict_photo_any_color_order(tiny_run, astronaut_bgr):
    model = load_model(tiny_run)
    out = predict(model, astronaut_bgr)
    assert len(out) == 1
    p = out[0]
    assert p.box == tuple(fercsv.faces.detect_faces(astronaut_bgr)[0])
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
    pred = fercsv.prediction.FacePrediction((10, 40, 80, 80), "happy", 0.87, {"happy": 0.87})
    img = annotate(np.zeros((150, 150), np.uint8), [pred])
    assert img.shape == (150, 150, 3)
    assert img[40, 10:90].any() and img[20:40, 10:60].any()  # box edge and label background


def _write_video(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()


def test_video_prediction_and_frames(tiny_run, astronaut_bgr, tmp_path):
    frame = cv2.resize(astronaut_bgr, (320, 320))
    frames = [frame] * 8 + [np.full_like(frame, 40)] * 2
    _write_video(tmp_path / "clip.mp4", frames)
    from fercsv.video import aggregate, predict_video

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
    P = fercsv.prediction.FacePrediction
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
