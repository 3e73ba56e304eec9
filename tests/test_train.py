import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import fercsv
from fercsv import FercsvError

pytestmark = pytest.mark.tensorflow


def test_run_dir_contents(tiny_run):
    for name in ("best.keras", "last.keras", "history.csv", "labels.json", "config.json", "curves.png",
                 "done.json", "report.json", "confusion.png"):
        assert (tiny_run / name).is_file(), name
    assert json.loads((tiny_run / "labels.json").read_text()) == list(fercsv.FER2013_LABELS)
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["settings"]["epochs"] == 3 and config["settings"]["seed"] == 0
    assert config["precision"] == "float32" and "tensorflow" in config["versions"]
    hist = pd.read_csv(tiny_run / "history.csv")
    assert hist["epoch"].tolist() == [0, 1, 2]
    assert {"accuracy", "val_accuracy", "loss", "val_loss", "lr"} <= set(hist.columns)
    report = json.loads((tiny_run / "report.json").read_text())
    assert report["split"] == "PrivateTest" and report["n"] == 7 * 8
    assert not (tiny_run / "backup").exists()


def test_finished_run_is_not_retrained(tiny_run, synth_csv):
    before = (tiny_run / "best.keras").stat().st_mtime_ns
    said = []
    result = fercsv.train(synth_csv, tiny_run, epochs=3, batch_size=32, warmup_epochs=1, tta=False,
                          out=said.append)
    assert "already finished" in said[0]
    assert result.epochs_run == 3
    assert (tiny_run / "best.keras").stat().st_mtime_ns == before
    with pytest.raises(FercsvError, match="other settings"):
        fercsv.train(synth_csv, tiny_run, epochs=5, batch_size=32, warmup_epochs=1, tta=False)


_TRAIN_SCRIPT = textwrap.dedent("""
    import sys, fercsv
    fercsv.train(sys.argv[1], sys.argv[2], epochs=6, batch_size=32, warmup_epochs=1, tta=False,
                 patience=0, verbose=2)
""")


def _train_process(csv, run):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-c", _TRAIN_SCRIPT, str(csv), str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


@pytest.mark.slow
def test_resume_after_kill_9(synth_csv, tmp_path):
    """Kill -9 mid-run; running again continues at the next epoch with the same schedule."""
    reference = tmp_path / "reference"
    ref = _train_process(synth_csv, reference)
    ref.communicate(timeout=600)
    assert ref.returncode == 0

    run = tmp_path / "killed"
    proc = _train_process(synth_csv, run)
    meta = run / "backup" / "training_metadata.json"
    deadline = time.time() + 600
    while time.time() < deadline:
        if meta.is_file() and json.loads(meta.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # now somewhere inside epoch 3
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(meta.read_text())["epoch"]  # epochs completed and backed up
    assert 2 <= killed_at < 6 and not (run / "done.json").exists()

    again = _train_process(synth_csv, run)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    assert f"resuming {run} at epoch {killed_at + 1} of 6" in out
    assert "Epoch 1/6" not in out
    hist, ref_hist = pd.read_csv(run / "history.csv"), pd.read_csv(reference / "history.csv")
    assert hist["epoch"].tolist() == list(range(6))
    # The learning-rate schedule continues where it stopped (optimizer step count restored).
    np.testing.assert_allclose(hist["lr"], ref_hist["lr"], rtol=1e-6)
    assert (run / "done.json").is_file() and (run / "best.keras").is_file()


def test_validation_split_made_when_missing(tmp_path):
    ds = fercsv.synth_dataset(per_class=20, seed=1)
    ds = ds.subset(ds.usage == "Training")
    said = []
    result = fercsv.train(ds, tmp_path / "run", epochs=1, batch_size=32, warmup_epochs=0, out=said.append,
                          verbose=0, class_weight="balanced", model="seed-cnn")
    assert any("holding out 10% of Training" in s for s in said)
    assert result.test_accuracy is None
    assert json.loads((tmp_path / "run" / "config.json").read_text())["n_val"] == 14


def test_training_errors(tmp_path):
    ds = fercsv.synth_dataset(per_class=3)
    with pytest.raises(fercsv.BadInputError, match="unknown model"):
        fercsv.train(ds, tmp_path / "a", model="nope", epochs=1)
    test_only = ds.subset(ds.usage == "PrivateTest")
    with pytest.raises(fercsv.BadInputError, match="no Training rows"):
        fercsv.train(test_only, tmp_path / "b", epochs=1)


def test_cli_train_and_evaluate(synth_csv, tmp_path):
    from helpers import run_cli

    r = run_cli("train", synth_csv, "--out", tmp_path / "run", "--epochs", "1", "--batch-size", "32",
                "--model", "seed-cnn")
    assert r.returncode == 0, r.stderr
    assert "best validation accuracy" in r.stdout
    r = run_cli("evaluate", tmp_path / "run", synth_csv, "--split", "PublicTest", "--json", "--tta")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["split"] == "PublicTest" and report["n"] == 56 and report["tta"] == "flip"
    assert (tmp_path / "run" / "evaluations" / "synth_publictest" / "confusion_publictest.png").is_file()
    own = json.loads((tmp_path / "run" / "report.json").read_text())
    assert own["split"] == "PrivateTest" and own["tta"] == "flip+zoom"  # the training default
    r = run_cli("evaluate", tmp_path / "run", synth_csv, "--tta", "crops")
    assert r.returncode == 2 and "invalid choice: 'crops'" in r.stderr
    r = run_cli("evaluate", tmp_path / "nothing", synth_csv)
    assert r.returncode == 1 and "no such model file or run folder" in r.stderr
