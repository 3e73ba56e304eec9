import json

import pytest

import fercsv
import subprocess
import sys
import textwrap

from fercsv import read_csv
from fercsv.cli import main
from helpers import run_cli


def test_convert_both_directions_through_cli(split_folder, tmp_path):
    r = run_cli("convert", split_folder, tmp_path / "f.csv.gz", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "wrote 15 images" in r.stdout and "Training: 9" in r.stdout
    r = run_cli("convert", tmp_path / "f.csv.gz", tmp_path / "back", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "back").rglob("*.png"))) == 15
    r = run_cli("convert", tmp_path / "back", tmp_path / "g.csv", "--quiet", "--json")
    report = json.loads(r.stdout)
    assert report["rows"] == 15 and report["skipped"] == []
    assert len(read_csv(tmp_path / "g.csv")) == 15


def test_errors_are_one_line_without_traceback(split_folder, tmp_path):
    (split_folder / "train" / "happy" / "bad.png").write_bytes(b"")
    r = run_cli("convert", split_folder, tmp_path / "s.csv", "--strict", "--quiet")
    assert r.returncode == 1
    assert r.stderr.startswith("fercsv: error: ") and "bad.png: empty file" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "s.csv").exists()
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n1,1 2 3 4,Training\n1,1 2 x 4,Training\n")
    r = run_cli("convert", tmp_path / "bad.csv", tmp_path / "out")
    assert r.returncode == 1 and "bad.csv: line 3: non-integer token 'x'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("convert", tmp_path / "bad.csv", tmp_path / "out2", "--skip-bad-rows", "--quiet")
    assert r.returncode == 0 and "line 3: non-integer token 'x'" in r.stdout
    r = run_cli("info", tmp_path / "missing.csv")
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run_cli("convert")
    assert r.returncode == 2


def test_main_in_process(split_folder, tmp_path, capsys):
    assert main(["convert", str(split_folder), str(tmp_path / "m.csv"), "--quiet"]) == 0
    assert "wrote 15 images" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "x.csv")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_core_works_without_tensorflow(split_folder, tmp_path):
    """Block TensorFlow, tf2onnx and matplotlib imports, then run every core verb."""
    from helpers import blocking

    script = blocking(("tensorflow", "keras", "tf2onnx", "matplotlib", "onnxruntime"), f"""
        import fercsv
        from fercsv.cli import main
        assert main(['convert', r'{split_folder}', r'{tmp_path / "a.csv"}', '--quiet']) == 0
        assert main(['info', r'{tmp_path / "a.csv"}']) == 0
        assert main(['split', r'{tmp_path / "a.csv"}', r'{tmp_path / "b.csv"}']) == 0
        assert main(['convert', r'{tmp_path / "b.csv"}', r'{tmp_path / "back"}', '--quiet']) == 0
        assert main(['demo', '--workdir', r'{tmp_path / "demo"}', '--per-class', '3']) == 0
        assert not any(m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib') for m in sys.modules)
        print('core-ok')
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "core-ok" in r.stdout


def _verbs(parser):
    """Every (name, sub-parser) of the CLI, export formats included."""
    import argparse

    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((name, sub))
                out += [(f"{name} {n}", s) for n, s in _verbs(sub)]
    return out


def test_every_verb_has_help_defaults_and_an_example():
    from fercsv.cli import build_parser

    verbs = _verbs(build_parser())
    names = {n for n, _ in verbs}
    assert {"convert", "info", "split", "balance", "synth", "demo", "train", "evaluate", "predict",
            "frames", "export onnx", "export om", "export tflite", "download"} <= names
    for name, sub in verbs:
        assert "example:\n  fercsv " in (sub.epilog or ""), name
        for action in sub._actions:
            if action.dest in ("help",) or action.__class__.__name__ == "_SubParsersAction":
                continue
            assert action.help and action.help.strip(), f"{name} {action.dest} has no help"
            assert action.help.count("default:") <= 1, f"{name} {action.dest}: {action.help}"
            if action.option_strings:  # every option says what leaving it out means
                assert "default:" in action.help or "(required)" in action.help, f"{name} {action.dest}"
        text = sub.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
    train = dict(verbs)["train"].format_help()
    assert "--out RUN_DIR" in train and "(required)" in train and "--restart" in train and "(default: off)" in train
    for flag, default in (("--epochs N", "40"), ("--batch-size N", "64"), ("--lr X", "0.001"),
                          ("--model MODEL", "fercnn")):
        line = next(line for line in train.splitlines() if line.strip().startswith(flag))
        assert f"(default: {default})" in line, line  # one line per option, default read from train()


def test_choices_are_the_library_tables():
    import importlib

    from fercsv import export
    from fercsv.cli import build_parser
    from fercsv.runtime import tfutil
    from fercsv.serve import timeline
    from fercsv.training import evaluation, models, trainer
    split = importlib.import_module("fercsv.data.split")
    from fercsv.data.ferplus import FERPLUS_MODES

    verbs = dict(_verbs(build_parser()))

    def choices(verb, dest):
        return next(a.choices for a in verbs[verb]._actions if a.dest == dest and a.choices)

    assert list(choices("train", "model")) == list(models.MODELS)
    assert list(choices("train", "backbone")) == list(models.BACKBONES)
    assert list(choices("train", "schedule")) == list(trainer.SCHEDULES)
    assert list(choices("train", "precision")) == list(tfutil.PRECISIONS)
    assert list(choices("train", "tta")) == list(evaluation.TTA_MODES)
    assert list(choices("evaluate", "tta")) == list(evaluation.TTA_MODES)
    assert list(choices("train", "balance")) == list(split.BALANCE_METHODS)
    assert list(choices("balance", "method")) == list(split.BALANCE_METHODS)
    assert list(choices("predict", "aggregate_by")) == list(timeline.AGGREGATIONS)
    assert list(choices("export tflite", "quantize")) == list(export.QUANTIZATIONS)
    assert list(choices("convert", "ferplus_mode")) == list(FERPLUS_MODES)
    assert list(choices("evaluate", "split"))[:3] == list(fercsv_usages())


def fercsv_usages():
    from fercsv.data.labels import USAGES

    return USAGES


def test_core_verbs_do_not_load_the_upper_floor_cli(split_folder, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from fercsv.cli import main
        assert main(['convert', r'{split_folder}', r'{tmp_path / "a.csv"}', '--quiet']) == 0
        assert main(['info', r'{tmp_path / "a.csv"}']) == 0
        assert 'fercsv.cli.upper' not in sys.modules and 'fercsv.runtime.loading' not in sys.modules
        print('lazy-ok')
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0 and "lazy-ok" in r.stdout, r.stderr


def test_bad_inputs_get_one_line_and_write_nothing(tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("emotion,pixels,Usage\n")
    r = run_cli("info", header_only)
    assert r.returncode == 0 and "no images" in r.stdout, r.stderr
    r = run_cli("synth", tmp_path / "s", "--per-class", "-5")
    assert r.returncode == 2 and "--per-class: must be an integer >= 1, not '-5'" in r.stderr
    assert not (tmp_path / "s").exists()
    with pytest.raises(fercsv.BadInputError, match=r"synth: per_class \(CLI --per-class\) must be an integer >= 1; got -5"):
        fercsv.synth(tmp_path / "s", per_class=-5)
    assert not (tmp_path / "s").exists()
    r = run_cli("split", header_only, tmp_path / "out.csv", "--val", "0.6", "--test", "0.5")
    assert r.returncode == 1 and "must sum below 1" in r.stderr and not (tmp_path / "out.csv").exists()
    r = run_cli("train", header_only, "--out", tmp_path / "run", "--epochs", "0")
    assert r.returncode == 2 and "--epochs: must be an integer >= 1" in r.stderr
    for argv, expected in ((["train", header_only, "--out", tmp_path / "run", "--schedule", "steps"],
                            "invalid choice: 'steps'"),
                           (["predict", tmp_path / "nothing.jpg"], "no images or videos found"),
                           (["export", "tflite", tmp_path / "m.keras", tmp_path / "m.onnx"], "must end in .tflite")):
        r = run_cli(*argv)
        last = r.stderr.strip().splitlines()[-1]
        assert r.returncode in (1, 2) and expected in last and last.startswith("fercsv"), (argv, r.stderr)
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.onnx").exists()


def test_split_keeps_existing_test_rows_unless_told(tmp_path):
    ds = fercsv.synth_dataset(per_class=10)
    path = tmp_path / "d.csv"
    fercsv.write_csv(ds, path)
    before = {u: int((ds.usage == u).sum()) for u in ("PublicTest", "PrivateTest")}
    r = run_cli("split", path, tmp_path / "kept.csv", "--val", "0.1", "--test", "0")
    assert r.returncode == 0, r.stderr
    kept = fercsv.read_csv(tmp_path / "kept.csv")
    assert int((kept.usage == "PrivateTest").sum()) == before["PrivateTest"]
    assert int((kept.usage == "PublicTest").sum()) == before["PublicTest"] + 7  # 10% of each class's 10
    assert (kept.images[ds.usage != "Training"] == ds.images[ds.usage != "Training"]).all()
    r = run_cli("split", path, tmp_path / "new.csv", "--existing", "replace", "--val", "0.2", "--test", "0.2")
    assert r.returncode == 0 and "PrivateTest" in r.stdout
    again = fercsv.read_csv(tmp_path / "new.csv")
    assert int((again.usage == "Training").sum()) == 7 * (14 - 2 * round(14 * 0.2))  # per class, stratified


def test_error_with_an_empty_message_is_still_one_line(tmp_path, capsys, monkeypatch):
    import importlib

    module = importlib.import_module("fercsv.data.synth")

    def fail(*args, **kwargs):
        raise fercsv.BadInputError()

    monkeypatch.setattr(module, "synth", fail)
    assert main(["synth", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.strip() == "fercsv: error: BadInputError"


@pytest.mark.tensorflow
def test_tensorflow_start_up_lines_are_filtered_unless_asked(tiny_run, synth_csv):
    import os
    import re

    chatter = re.compile(r"^([IWE]\d{4} |WARNING: All log messages before absl)|cpu_feature_guard|cuInit", re.M)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FERCSV_TF_LOGS")}
    argv = [sys.executable, "-m", "fercsv", "evaluate", str(tiny_run), str(synth_csv), "--split", "PublicTest"]
    quiet = subprocess.run(argv, capture_output=True, text=True, env=env)
    loud = subprocess.run(argv, capture_output=True, text=True, env={**env, "FERCSV_TF_LOGS": "1"})
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    assert "PublicTest: accuracy" in quiet.stdout
    assert not chatter.search(quiet.stderr), quiet.stderr
    assert chatter.search(loud.stderr), loud.stderr  # this TensorFlow does talk when allowed to


def test_convert_ferplus_flags(tmp_path):
    from test_ferplus import _fer_csv, _row, _votes_file

    ds, src = _fer_csv(tmp_path)
    votes = [_row(happiness=8, surprise=2)] * len(ds)
    vfile = _votes_file(tmp_path / "fer2013new.csv", votes, ds.usage)
    r = run_cli("convert", src, tmp_path / "plus.csv", "--ferplus", vfile, "--ferplus-mode", "probability")
    assert r.returncode == 0, r.stderr
    back = read_csv(tmp_path / "plus.csv")
    assert len(back) == len(ds) and back.targets() is not None and back.name_of(back.labels[0]) == "happy"
    r = run_cli("convert", src, tmp_path / "x.csv", "--ferplus", vfile, "--ferplus-mode", "votes")
    assert r.returncode == 2 and "invalid choice: 'votes'" in r.stderr
