import json
import os
import subprocess
import sys
import textwrap

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
    assert config["precision"] in ("float32", "mixed_bfloat16") and "tensorflow" in config["versions"]
    hist = pd.read_csv(tiny_run / "history.csv")
    assert hist["epoch"].tolist() == [0, 1, 2]
    assert {"accuracy", "val_accuracy", "loss", "val_loss", "lr"} <= set(hist.columns)
    report = json.loads((tiny_run / "report.json").read_text())
    assert report["split"] == "PrivateTest" and report["n"] == 7 * 8
    assert not (tiny_run / "backup").exists()
    state = json.loads((tiny_run / "state.json").read_text())
    assert state["epochs_done"] == 3 and len(state["history"]) == 3 and state["pending"] == {}
    assert "roc_auc" in report and report["accuracy_no_tta"] == report["accuracy"]  # tta=False


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


def test_time_limit_stops_at_an_epoch_end_and_the_spent_budget_is_not_retrained(synth_csv, tmp_path):
    run, said = tmp_path / "limited", []
    options = dict(epochs=4, batch_size=32, warmup_epochs=1, tta=False, time_limit_minutes=0.01, verbose=0)
    # 0.01 minutes (0.6 s) is shorter than the first epoch (it builds and traces the model), so the
    # run stops at its end rather than start an epoch that cannot fit
    result = fercsv.train(synth_csv, run, out=said.append, **options)
    assert result.epochs_run == 1 and result.best_epoch == 1
    assert "time limit of 0.01 minutes reached after epoch 1" in said
    state = json.loads((run / "state.json").read_text())
    assert state["time_limited"] and state["epochs_done"] == 1 and len(state["history"]) == 1
    assert len(pd.read_csv(run / "history.csv")) == 1
    assert json.loads((run / "report.json").read_text())["split"] == "PrivateTest"  # the final report is made
    before, again = (run / "best.keras").stat().st_mtime_ns, []
    assert fercsv.train(synth_csv, run, out=again.append, **options).epochs_run == 1
    assert "already finished" in again[0] and (run / "best.keras").stat().st_mtime_ns == before


_TRAIN_SCRIPT = textwrap.dedent("""
    import json, sys, fercsv
    print(fercsv.train(sys.argv[1], sys.argv[2], epochs=5, batch_size=16, warmup_epochs=1, tta=False,
                       patience=0, verbose=2, **json.loads(sys.argv[3])))
""")


def _train_process(csv, run, crash_at=None, **options):
    env = dict(os.environ)
    env.pop("FERCSV_CRASH_AT", None)
    if crash_at:
        env["FERCSV_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, str(csv), str(run), json.dumps(options)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_a_seed_makes_the_run_and_a_resumed_run_ends_with_the_same_weights(small_csv, tmp_path):
    """Same seed, same run: the initial weights, the batches and their augmentation, and the dropout
    masks are drawn from the seed. A run killed after an epoch and resumed from its RUN_DIR ends with
    the weights and history of one that was never stopped, in bfloat16 too (where Keras reloads
    spatial dropout in float32 unless told otherwise); another seed gives another run."""
    import keras

    options = dict(precision="bfloat16", erasing=0.3, ema=0.9)
    whole, again, other, resumed = (tmp_path / name for name in ("whole", "again", "other", "resumed"))
    for run, seed in ((whole, 0), (again, 0), (other, 1)):
        proc = _train_process(small_csv, run, seed=seed, **options)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    killed = _train_process(small_csv, resumed, crash_at="committed:1", seed=0, **options)
    assert killed.returncode == 86, killed.stdout + killed.stderr
    proc = _train_process(small_csv, resumed, seed=0, **options)
    assert proc.returncode == 0 and f"resuming {resumed} at epoch 3 of 5" in proc.stdout, proc.stdout + proc.stderr

    def history(run):
        return pd.read_csv(run / "history.csv")

    def weights(run):  # the seed generators' states are drawn afresh at each load
        net = keras.models.load_model(run / "last.keras")
        return [v.numpy() for v in net.weights + net.optimizer.variables if v.name != "seed_generator_state"]

    pd.testing.assert_frame_equal(history(again), history(whole))
    pd.testing.assert_frame_equal(history(resumed), history(whole))
    for a, b in zip(weights(resumed), weights(whole), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(history(other)["loss"], history(whole)["loss"])


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "small.csv"
    fercsv.write_csv(fercsv.synth_dataset(per_class=8, seed=3), path)
    return path


@pytest.mark.slow
def test_kill_at_each_commit_instant_never_rewrites_a_shown_row(small_csv, tmp_path):
    """The process dies between the writes of an epoch's commit; every restart resumes where the
    RUN_DIR says, rows once shown in history.csv stay as they were, and messages agree."""
    run = tmp_path / "killed"
    shown = {}
    committed_before = 0
    # (instant, epoch): after the staged model files / after state.json / between the renames /
    # before history.csv is redrawn.
    for point, epoch in (("staged", 0), ("committed", 1), ("renamed-last", 2), ("published", 3)):
        proc = _train_process(small_csv, run, crash_at=f"{point}:{epoch}")
        assert proc.returncode == 86, proc.stdout + proc.stderr
        if committed_before:
            assert f"resuming {run} at epoch {committed_before + 1} of 5" in proc.stdout
        else:
            assert "resuming" not in proc.stdout
        state = json.loads((run / "state.json").read_text()) if (run / "state.json").is_file() else None
        committed = state["epochs_done"] if state else 0
        assert committed == (epoch if point == "staged" else epoch + 1)
        if (run / "history.csv").is_file():
            rows = pd.read_csv(run / "history.csv").to_dict("records")
            assert len(rows) <= committed
            for row in rows:
                assert shown.setdefault(row["epoch"], row) == row  # never rewritten
        committed_before = committed
    final = _train_process(small_csv, run)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"resuming {run} at epoch {committed_before + 1} of 5" in final.stdout
    assert f"(resumed at epoch {committed_before + 1})" in final.stdout
    hist = pd.read_csv(run / "history.csv")
    assert hist["epoch"].tolist() == list(range(5))
    for row in hist.to_dict("records"):
        if row["epoch"] in shown:
            assert shown[row["epoch"]] == row
    # The schedule continued where it stopped (optimizer step count restored from last.keras):
    # the rate after each epoch is the uninterrupted cosine schedule's at that step.
    import keras

    steps = 7 * 8 // 16
    schedule = keras.optimizers.schedules.CosineDecay(1e-4, decay_steps=steps * 5 - steps, alpha=0.01,
                                                      warmup_target=1e-3, warmup_steps=steps)
    expected = [float(schedule((e + 1) * steps)) for e in range(5)]
    np.testing.assert_allclose(hist["lr"], expected, rtol=1e-5)
    assert not list(run.glob(".*-epoch*.keras"))  # no staged file left behind
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == 5 and state["pending"] == {}
    assert (run / "done.json").is_file() and (run / "best.keras").is_file()


def test_bad_settings_write_nothing_and_a_corrected_call_runs(tmp_path):
    ds = fercsv.synth_dataset(per_class=4, seed=2)
    run = tmp_path / "run"
    bad = [dict(schedule="steps"), dict(class_weight="inverse"), dict(model="resnet"), dict(epochs=0),
           dict(batch_size=-1), dict(lr=0), dict(precision="fp8"), dict(tta="crops"), dict(balance="smote"),
           dict(label_smoothing=1.5), dict(ema=1.0), dict(patience=-1), dict(time_limit_minutes=0), dict(colour=True),
           dict(seed=-1), dict(seed=2**32)]
    for options in bad:
        with pytest.raises(fercsv.BadInputError) as info:
            fercsv.train(ds, run, **{"epochs": 1, **options})
        name = next(iter(options))
        assert name in str(info.value) and "\n" not in str(info.value)
        assert not run.exists(), options
    said = []
    result = fercsv.train(ds, run, epochs=1, batch_size=16, schedule="plateau", tta="none", out=said.append,
                          verbose=0)
    assert result.epochs_run == 1 and (run / "config.json").is_file()


def test_precision_policy_restored_when_training_is_interrupted(tmp_path):
    import keras

    def interrupt(message):
        if message.startswith("training "):
            raise KeyboardInterrupt

    before = keras.mixed_precision.global_policy().name
    with pytest.raises(KeyboardInterrupt):
        fercsv.train(fercsv.synth_dataset(per_class=4), tmp_path / "run", epochs=1, precision="bfloat16",
                     out=interrupt, verbose=0)
    assert keras.mixed_precision.global_policy().name == before


def test_fit_diagnosis_in_result_and_done_json(tiny_run):
    done = json.loads((tiny_run / "done.json").read_text())
    assert done["fit"].split(":")[0] in ("over-fits", "under-fits", "fits")
    assert done["gap"] == pytest.approx(done["train_accuracy"] - done["best_val_accuracy"])
    result = fercsv.training.trainer.TrainResult(**{k: v for k, v in done.items() if k != "gap"})
    assert "points to validation" in str(result) and done["fit"] in str(result)
    assert fercsv.training.trainer.diagnose_fit([{"accuracy": 0.5, "val_accuracy": 0.48}] * 3, 3, 3).startswith("under")
    assert fercsv.training.trainer.diagnose_fit([{"accuracy": 0.95, "val_accuracy": 0.6}] * 3, 1, 3).startswith("over")


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
    assert own["split"] == "PrivateTest" and own["tta"] == "flip+zoom+rotate"  # the training default
    r = run_cli("evaluate", tmp_path / "run", synth_csv, "--tta", "crops")
    assert r.returncode == 2 and "invalid choice: 'crops'" in r.stderr
    r = run_cli("evaluate", tmp_path / "nothing", synth_csv)
    assert r.returncode == 1 and "no such model file or run folder" in r.stderr


def test_tpu_advertised_by_the_runtime_is_noticed(monkeypatch):
    from fercsv.runtime.tfutil import advertised_tpu, check_precision

    for var in ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE"):
        monkeypatch.delenv(var, raising=False)
    import glob

    assert advertised_tpu() == (sorted(glob.glob("/dev/accel*")) or [None])[0]
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert advertised_tpu() == "COLAB_TPU_ADDR=10.0.0.2:8470"
    assert check_precision("float16") == "mixed_float16" and check_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(fercsv.BadInputError, match=r"precision \(CLI --precision\) must be one of auto"):
        check_precision("fp8")


def test_fused_steps_cover_each_epoch_exactly_and_validation_sees_every_face(tmp_path):
    """Steps run 12 at a time in one call (steps_per_execution) change nothing a run relies on: each
    epoch is exactly its steps (the optimizer counts epochs x steps), and validation scores every
    PublicTest face once (the recorded val_accuracy equals a plain evaluation of last.keras)."""
    from fercsv.runtime.tfutil import import_tf
    from fercsv.training.pipeline import eval_dataset
    from fercsv.training.trainer import steps_per_execution

    tf, keras = import_tf()
    ds = fercsv.synth_dataset(per_class=40, seed=0)
    n_train = int((ds.usage == "Training").sum())
    batch = n_train // 12
    assert steps_per_execution(n_train // batch) == 12
    said = []
    fercsv.train(ds, tmp_path / "run", model="seed-cnn", epochs=2, batch_size=batch, precision="float32",
                 tta=False, verbose=0, out=said.append)
    assert any("2 epochs of 12 steps (12 per call)" in line for line in said), said
    net = keras.models.load_model(tmp_path / "run" / "last.keras")
    assert int(net.optimizer.iterations.numpy()) == 2 * 12
    val = ds.subset(np.flatnonzero(ds.usage == "PublicTest"))
    data = eval_dataset(val.images, val.labels, batch_size=7).map(lambda x, y: (x, tf.one_hot(y, 7)))
    _, accuracy = net.evaluate(data, verbose=0)
    recorded = float(open(tmp_path / "run" / "history.csv").read().splitlines()[-1].split(",")[4])
    assert accuracy == pytest.approx(recorded, abs=1e-6)
