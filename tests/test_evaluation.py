import json

import numpy as np
import pytest

import fercsv
from fercsv import FERDataset
from fercsv.evaluation import evaluate

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
    assert tta.tta and tta.n == 56


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
