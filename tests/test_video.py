"""Video timelines on a real clip: two astronauts moving, an ONNX model exported from a real training.

The clip is 3 s at 10 frames/s; the left face moves right 2 px per frame and the right face moves
down 1 px per frame, so each row's box tells which frame it came from.
"""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

import fercsv
from fercsv.serve.video import predict_video
from fercsv.vision.frames import video_info
from helpers import write_video

#: Photo-grade detection: the faces in this clip are small for the 320 px video preset.
DETECT = {"max_side": 800, "scale_factor": 1.1}


def _onnx_path(tmp_path_factory, tiny_run):
    """fercsv's model trained on synthetic faces (conftest's tiny_run) exported to ONNX, once per session."""
    path = tmp_path_factory.getbasetemp() / "fercsv-onnx" / "model.onnx"
    if not path.is_file():
        fercsv.export_onnx(tiny_run, path)
    return path


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, tiny_run):
    return _onnx_path(tmp_path_factory, tiny_run)


def two_faces_frame(astronaut_bgr, i):
    head = cv2.resize(astronaut_bgr, (300, 300))
    frame = np.full((330, 760, 3), 90, np.uint8)
    frame[0:300, 2 * i:2 * i + 300] = head
    frame[i:i + 300, 420:720] = head
    return frame


write_clip = write_video  # the name test_app imports


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut_bgr):
    path = tmp_path_factory.mktemp("clip") / "two.mp4"
    return write_clip(path, [two_faces_frame(astronaut_bgr, i) for i in range(30)])


def _no_temp_files(folder):
    return [p.name for p in folder.rglob("*") if ".part" in p.name]


def test_timeline_table_tracks_plot_and_summary(onnx_model, clip, tmp_path):
    out = tmp_path / "out"
    result = predict_video(onnx_model, clip, out, progress=False, **DETECT)
    assert result.frames == 30 and result.frames_with_face == 30
    table = pd.read_csv(out / "frames.csv")
    assert list(table.columns[:10]) == ["frame", "time", "face", "track", "x", "y", "w", "h", "label", "score"]
    assert np.allclose(table["time"], table["frame"] / 10)
    # two people, each followed through the whole clip under one track id
    assert len(result.people) == 2 and all(p["frames"] >= 28 for p in result.people)
    left = table[table["track"] == table.loc[table["x"] < 300, "track"].mode()[0]]
    assert (left["x"] < 300).all() and left["frame"].is_unique and len(left) >= 28
    assert np.polyfit(left["frame"], left["x"], 1)[0] == pytest.approx(2, abs=0.5)  # it moves right
    probs = table[[f"p_{n}" for n in fercsv.FER2013_LABELS]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    assert (table["label"] == np.array(fercsv.FER2013_LABELS)[probs.argmax(1)]).all()
    for person in result.people:
        rows = table[table["track"] == person["track"]]
        votes = rows["label"].value_counts()
        assert person["label"] == votes.index[0] and person["scores"][person["label"]] == \
            pytest.approx(votes.iloc[0] / len(rows))
        assert person["start"] == pytest.approx(rows["time"].min())
    # the plot, the annotated video and the summary
    png = cv2.imread(str(out / "timeline.png"))
    assert png is not None and png.shape[0] > 300 and png.std() > 10
    assert video_info(out / "annotated.mp4").frames == 30
    summary = json.loads((out / "summary.json").read_text())
    assert summary["label"] == result.label and len(summary["people"]) == 2
    assert summary["files"]["timeline"] == str(out / "timeline.png")
    assert "person" in str(result) and "3.0" not in str(result).split("from")[0]
    assert _no_temp_files(out) == []


def test_window_and_every_pick_the_right_frames(onnx_model, clip, tmp_path):
    result = predict_video(onnx_model, clip, tmp_path / "w", start=1.0, end=2.0, every=3,
                           write_video=False, plot=False, progress=False, **DETECT)
    table = pd.read_csv(tmp_path / "w" / "frames.csv")
    assert sorted(set(table["frame"])) == [10, 13, 16, 19] and result.frames == 4
    assert sorted(set(table["time"])) == [1.0, 1.3, 1.6, 1.9]
    assert (result.start, result.end) == (1.0, 1.9)
    # the content matches the frame number: the seek landed where it says
    left = table[table["x"] < 300]
    assert np.allclose(left["x"] - 2 * left["frame"], 101, atol=4)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["frames.csv", "summary.json"]


def test_webm_output_for_browsers(onnx_model, clip, tmp_path):
    result = predict_video(onnx_model, clip, tmp_path / "b", end=0.5, video_format="webm", plot=False,
                           progress=False, **DETECT)
    assert result.files["video"].endswith("annotated.webm")
    assert video_info(result.files["video"]).frames == 6


def interrupt_after(model, n):
    """A real loaded ONNX model whose n-th prediction is interrupted, as by Ctrl-C."""
    loaded = fercsv.load_model(model)
    real, calls = loaded.predict, []

    def predict(x):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(x)

    loaded.predict = predict
    return loaded, calls


def test_interrupted_video_leaves_nothing_half_written(onnx_model, clip, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    model, calls = interrupt_after(onnx_model, 5)
    with pytest.raises(KeyboardInterrupt):
        predict_video(model, clip, out, progress=False, **DETECT)
    assert len(calls) == 5
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    with pytest.raises(KeyboardInterrupt):
        predict_video(interrupt_after(onnx_model, 2)[0], clip, tmp_path / "new", progress=False, **DETECT)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("this is not a video\n" * 50), "not a video OpenCV can read"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (lambda p: None, "no such video file"),
])
def test_bad_video_files_get_one_clear_line(onnx_model, tmp_path, make, message):
    bad = tmp_path / "bad.mp4"
    make(bad)
    with pytest.raises(fercsv.BadInputError, match=message):
        predict_video(onnx_model, bad, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_truncated_video_and_bad_options(onnx_model, clip, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:2000])  # the header survives, the frames do not
    with pytest.raises(fercsv.BadInputError, match="cut.mp4: (no frames could be read|not a video)"):
        predict_video(onnx_model, cut, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    for kwargs, message in [({"every": 0}, "every must be a whole number >= 1"),
                            ({"start": 2, "end": 1}, r"end \(1 s\) must come after start \(2 s\)"),
                            ({"start": -1}, "start must be a time in seconds >= 0"),
                            ({"start": 9}, r"start 9 s is past the end of the video \(3.00 s\)"),
                            ({"aggregate_by": "median"}, "aggregate_by must be one of vote, mean"),
                            ({"video_format": "gif"}, "video_format must be one of mp4, webm")]:
        with pytest.raises(fercsv.BadInputError, match=message):
            predict_video(onnx_model, clip, tmp_path / "out", progress=False, **kwargs)
        assert not (tmp_path / "out").exists()


def test_cli_predict_video_window_and_bad_window(onnx_model, clip, tmp_path):
    from helpers import run_cli

    r = run_cli("predict", onnx_model, clip, "--out", tmp_path / "o", "--start", "1", "--end", "2",
                "--every", "5", "--no-plot")
    assert r.returncode == 0, r.stderr
    summary = json.loads(next((tmp_path / "o").rglob("summary.json")).read_text())
    assert (summary["frames"], summary["start"], summary["end"]) == (3, 1.0, 2.0)
    assert "timeline" not in summary["files"] and "frames" in summary["files"]
    r = run_cli("predict", onnx_model, clip, "--out", tmp_path / "bad", "--start", "2", "--end", "1")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "end (1.0 s) must come after start (2.0 s)" in r.stderr
    assert not list((tmp_path / "bad").rglob("*.csv"))
