import json

import numpy as np
import pytest

import fercsv
from fercsv import FERDataset
from fercsv.training.evaluation import TTA_MODES, evaluate, predict_probabilities, tta_views
from fercsv.runtime.loading import load_model

pytestmark = pytest.mark.tensorflow


def test_report_contents_and_files(tiny_run, synth_csv, tmp_path):
    report = evaluate(tiny_run, synth_csv, split="PrivateTest", out_dir=tmp_path)
    assert report.n == 56 and 0.0 <= report.accuracy <= 1.0
    assert list(report.per_class) == list(fercsv.FER2013_LABELS)
    assert sum(s["support"] for s in report.per_class.values()) == 56
    m = np.array(report.confusion)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-3)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["accuracy"] == pytest.approx(report.accuracy)
    assert (tmp_path / "confusion.png").stat().st_size > 1000
    tta = evaluate(tiny_run, synth_csv, split="PrivateTest", tta=True)
    assert tta.tta == "flip" and tta.n == 56 and "flip TTA" in str(tta)
    assert report.tta == "none" and "TTA" not in str(report).splitlines()[0]


def test_tta_views_are_mirrors_and_centred_zooms():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    faces[0] = 0
    faces[0, 16:32, 16:32] = 255  # a bright centred square on black to watch the zoom
    views = list(tta_views(faces, "flip+zoom"))
    assert len(views) == 6 and all(v.shape == faces.shape and v.dtype == np.uint8 for v in views)
    np.testing.assert_array_equal(views[0], faces)
    np.testing.assert_array_equal(views[3], faces[:, :, ::-1])
    area = [v[0].sum() / 255 for v in views[:3]]  # scale 1, 1.05 (zoom in), 0.95 (zoom out)
    np.testing.assert_allclose(area, [256, 256 * 1.05 ** 2, 256 * 0.95 ** 2], rtol=0.02)
    np.testing.assert_array_equal(views[4], views[1][:, :, ::-1])  # the zoom is centred: mirror commutes
    assert [len(list(tta_views(faces, m))) for m in (False, True, "none")] == [1, 2, 1]


def test_flip_zoom_rotate_views_turn_the_face_both_ways():
    faces = np.zeros((1, 48, 48), np.uint8)
    faces[0, 22:26, 8:40] = 255  # a horizontal bar through the centre, to watch the turn
    modes = TTA_MODES["flip+zoom+rotate"]
    views = list(tta_views(faces, "flip+zoom+rotate"))
    assert len(views) == len(modes) == 14 and modes[0] == (False, 1.0, 0, 0, 0)
    np.testing.assert_array_equal(views[0], faces)

    def tilt(img):  # the bar's angle in degrees from its second moments, counter-clockwise positive
        ys, xs = np.nonzero(img > 127)
        cov = np.cov(np.stack([xs - xs.mean(), -(ys - ys.mean())]))
        return np.degrees(0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1]))

    turned = {v.angle: views[i][0] for i, v in enumerate(modes) if v.angle and not v.mirrored}
    assert sorted(turned) == [-6, 6]
    for angle, img in turned.items():
        assert abs(tilt(img) - angle) < 1.5, angle
    # mirroring a face turned one way equals turning the mirrored face the other way
    mirrored_plus = views[next(i for i, v in enumerate(modes) if v.mirrored and v.angle == 6)]
    def gap(a, b):
        return np.abs(a.astype(float) - b).mean()

    assert gap(mirrored_plus[0], turned[-6][:, ::-1]) < 0.5 < 5 < gap(mirrored_plus[0], turned[6][:, ::-1])
    zooms = sorted((v.scale, (views[i][0, 24] > 127).sum()) for i, v in enumerate(modes)
                   if not v.mirrored and not v.angle)
    assert [s for s, _ in zooms] == [0.9, 0.95, 1.0, 1.05, 1.1]
    for scale, width in zooms:  # the 32-pixel bar grows with the zoom
        assert abs(width - 32 * scale) <= 1.5, scale


def test_tta_averages_the_views(tiny_run, synth_csv):
    loaded = load_model(tiny_run)
    faces = fercsv.read_csv(synth_csv).subset("PrivateTest").images[:16]
    single = [predict_probabilities(loaded, v) for v in tta_views(faces, "flip+zoom")]
    np.testing.assert_allclose(predict_probabilities(loaded, faces, tta="flip+zoom"),
                               np.mean(single, axis=0), atol=1e-6)
    np.testing.assert_allclose(predict_probabilities(loaded, faces, tta="flip"),
                               (single[0] + single[3]) / 2, atol=1e-6)
    with pytest.raises(fercsv.BadInputError, match=r"tta \(CLI --tta\) must be one of none, flip, flip\+zoom, ten-crop, flip\+zoom\+rotate; got .crops."):
        predict_probabilities(loaded, faces, tta="crops")


def test_cli_tta_choices_match_the_library():
    from fercsv.cli.upper import TTA_CHOICES

    assert set(TTA_CHOICES) == set(TTA_MODES)


def test_other_label_set_matched_by_name(tiny_run, synth_csv):
    """A CK+-like CSV: contempt (unknown to the model), no neutral, names instead of codes."""
    ds = fercsv.read_csv(synth_csv).subset("PrivateTest")
    keep = ds.labels != 6  # no neutral
    imgs, labels = ds.images[keep], [ds.name_of(c) for c in ds.labels[keep]]
    labels[:5] = ["contempt"] * 5
    ck = FERDataset.from_arrays(imgs, labels, usage=["PrivateTest"] * len(labels))
    before = (tiny_run / "report.json").read_text()
    report = evaluate(tiny_run, ck)
    assert (tiny_run / "report.json").read_text() == before  # the run's own report is kept
    assert (tiny_run / "evaluations" / "data_privatetest" / "confusion.png").is_file()
    assert report.unscored_labels == {"contempt": 5}
    assert report.absent_labels == ["neutral"]
    assert report.n == len(labels) - 5
    assert "not scored (the model has no such class): contempt (5 rows)" in str(report)


def test_evaluate_errors(tiny_run, synth_csv):
    with pytest.raises(fercsv.BadInputError, match="no Holdout|unknown Usage"):
        evaluate(tiny_run, synth_csv, split="Holdout")
    small = FERDataset.from_arrays(np.zeros((2, 32, 32), np.uint8), ["happy", "sad"],
                                   usage=["PrivateTest"] * 2)
    with pytest.raises(fercsv.BadInputError, match="expects 48x48 images"):
        evaluate(tiny_run, small)


def test_one_pass_gives_plain_and_tta_accuracy_and_roc_auc(tiny_run, synth_csv, tmp_path):
    from fercsv.training.evaluation import evaluate

    both = evaluate(tiny_run, synth_csv, split="PublicTest", tta="flip+zoom", out_dir=tmp_path)
    plain = evaluate(tiny_run, synth_csv, split="PublicTest", tta="none")
    assert both.accuracy_no_tta == pytest.approx(plain.accuracy)
    stored = json.loads((tmp_path / "report_publictest.json").read_text())
    assert stored["accuracy_no_tta"] == pytest.approx(plain.accuracy) and stored["tta"] == "flip+zoom"
    assert set(stored["roc_auc"]) == set(fercsv.FER2013_LABELS)
    assert all(0.0 <= v <= 1.0 for v in stored["roc_auc"].values())
    assert stored["macro_roc_auc"] == pytest.approx(np.mean(list(stored["roc_auc"].values())))
    assert "macro ROC-AUC" in str(both) and "without TTA" in str(both)
    every = evaluate(tiny_run, synth_csv, split="all")
    assert every.split == "all" and every.n == len(fercsv.read_csv(synth_csv))


def test_evaluate_reads_an_image_folder_and_its_zip(tiny_run, tmp_path):
    import shutil

    fercsv.synth(tmp_path / "faces", per_class=4, seed=5)
    from_folder = fercsv.evaluate(tiny_run, tmp_path / "faces", split="PrivateTest")
    archive = shutil.make_archive(str(tmp_path / "faces"), "zip", tmp_path / "faces")
    from_zip = fercsv.evaluate(tiny_run, archive, split="PrivateTest")
    from_csv = fercsv.evaluate(tiny_run, fercsv.read_folder(tmp_path / "faces"), split="PrivateTest")
    assert from_folder.n == from_zip.n == from_csv.n > 0
    assert from_folder.accuracy == from_zip.accuracy == from_csv.accuracy
