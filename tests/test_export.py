import json
import os
import stat
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import fercsv
from fercsv import BadInputError, ExportError
from fercsv.export import export_om, export_onnx, export_tflite, verify_onnx
from fercsv.runtime.loading import load_model
from helpers import run_cli

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def onnx_nhwc(tiny_run, tmp_path_factory, synth_csv):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    report = export_onnx(tiny_run, path, data=synth_csv)
    return path, report


def test_onnx_matches_keras_and_describes_itself(onnx_nhwc, tiny_run, synth_csv):
    path, report = onnx_nhwc
    assert report.max_abs_diff <= 1e-4 and report.top1_agreement == 1.0 and report.n_checked == 64
    proto = onnx.load(str(path))
    inp = proto.graph.input[0]
    assert inp.name == "image"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 48, 48, 1]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["labels"]) == list(fercsv.FER2013_LABELS)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    keras_model = load_model(tiny_run)
    images = fercsv.read_csv(synth_csv).images[:5].astype(np.float32)[..., None] / 255.0
    for n in (1, 5):  # dynamic batch
        out = sess.run(None, {"image": images[:n]})[0]
        assert out.shape == (n, 7)
        np.testing.assert_allclose(out, keras_model.predict(images[:n]), atol=1e-4)
    onnx_model = load_model(path)  # prediction through onnxruntime gives the same labels
    assert onnx_model.kind == "onnx" and onnx_model.label_names == list(fercsv.FER2013_LABELS)
    np.testing.assert_allclose(onnx_model.predict(images), keras_model.predict(images), atol=1e-4)


def test_nchw_export_for_ascend(tiny_run, tmp_path):
    path = tmp_path / "nchw.onnx"
    report = export_onnx(tiny_run, path, nchw=True)
    assert report.max_abs_diff <= 1e-4
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 48, 48]


def test_mismatched_model_fails_verification(onnx_nhwc):
    path, _ = onnx_nhwc
    other = fercsv.build_model("fercnn")  # same architecture, different (random) weights
    with pytest.raises(ExportError, match="ONNX output differs from Keras"):
        verify_onnx(other, path)


def test_bfloat16_model_exports_float32_files_checked_against_keras_float32(synth_csv, tmp_path):
    """Issue 19: Keras runs a model trained in mixed_bfloat16 in bfloat16 (the policy is saved in
    best.keras); ONNX and TFLite get float32 files, checked against a float32 forward pass of the
    same weights to 1e-4, and the report names that reference and the training precision."""
    from fercsv.runtime.loading import TFLiteModel

    run = tmp_path / "bf16"
    fercsv.train(synth_csv, run, epochs=1, batch_size=32, warmup_epochs=0, precision="bfloat16",
                 tta=False, verbose=0, out=lambda m: None)
    assert json.loads((run / "config.json").read_text())["precision"] == "mixed_bfloat16"
    trained = load_model(run).keras_model
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in trained.layers}
    # The reference built here, not by fercsv.export: the same weights in a model built in float32.
    float32 = fercsv.build_model("fercnn")
    float32.set_weights(trained.get_weights())
    faces = fercsv.read_csv(synth_csv).images[:64].astype(np.float32)[..., None] / 255.0
    expected = float32.predict(faces, verbose=0)

    onnx_path, tflite_path = tmp_path / "bf16.onnx", tmp_path / "bf16.tflite"
    for report, path in ((export_onnx(run, onnx_path, data=synth_csv), onnx_path),
                         (export_tflite(run, tflite_path, data=synth_csv), tflite_path)):
        assert report.max_abs_diff <= 1e-4 and report.top1_agreement == 1.0 and report.n_checked == 64
        assert (report.reference, report.trained_precision) == ("Keras float32", "mixed_bfloat16")
        text = str(report)
        assert f"max |{report.format} - Keras float32| = {report.max_abs_diff:.2e} on 64 faces from {synth_csv}" \
            in text and "the model was trained in mixed_bfloat16" in text
        assert "Keras mixed_bfloat16 vs Keras float32" in report.details
        np.testing.assert_allclose(load_model(path).predict(faces), expected, atol=1e-4)
    proto = onnx.load(str(onnx_path))  # float32 compute: no bfloat16/float16 weight or cast in the file
    low = {onnx.TensorProto.BFLOAT16, onnx.TensorProto.FLOAT16}
    assert not {t.data_type for t in proto.graph.initializer} & low
    assert not [n for n in proto.graph.node if n.op_type == "Cast" and n.attribute[0].i in low]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dtypes = {d["dtype"].__name__ for d in TFLiteModel(tflite_path).interpreter.get_tensor_details()}
    assert dtypes <= {"float32", "int32"}, dtypes


def test_onnx_cli_and_bad_inputs(tiny_run, tmp_path):
    r = run_cli("export", "onnx", tiny_run, tmp_path / "m.onnx", "--opset", "13")
    assert r.returncode == 0, r.stderr
    assert "max |ONNX - Keras float32| = " in r.stdout and "trained in float32" in r.stdout
    assert (tmp_path / "m.onnx").is_file()
    r = run_cli("export", "onnx", tmp_path / "missing", tmp_path / "x.onnx")
    assert r.returncode == 1 and "no such model file" in r.stderr
    (tmp_path / "fake.keras").write_bytes(b"PK\x03\x04 nope")
    r = run_cli("export", "onnx", tmp_path / "fake.keras", tmp_path / "y.onnx")
    assert r.returncode == 1 and "cannot load as a Keras model" in r.stderr and "Traceback" not in r.stderr


FAKE_ATC = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["ATC_LOG"], "w") as fh:
        json.dump(args, fh)
    if os.environ.get("ATC_FAIL"):
        print("ATC start working now, please wait for a moment.")
        print("E19010: No parser is registered for Op [Foo].")
        sys.exit(3)
    out = next(a.split("=", 1)[1] for a in args if a.startswith("--output="))
    open(out + ".om", "wb").write(b"om")
    print("ATC run success")
""")


@pytest.fixture
def fake_atc(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    atc = bindir / "atc"
    atc.write_text(FAKE_ATC.format(python=sys.executable))
    atc.chmod(atc.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ATC_LOG", str(tmp_path / "atc_args.json"))
    return tmp_path / "atc_args.json"


@pytest.fixture(scope="module")
def onnx_nchw(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("nchw") / "fer.onnx"
    export_onnx(tiny_run, path, nchw=True, verify=False)
    return path


def test_om_runs_atc_with_the_right_arguments(onnx_nchw, fake_atc, tmp_path):
    report = export_om(onnx_nchw, tmp_path / "fer", soc_version="Ascend310P3")
    args = json.loads(fake_atc.read_text())
    assert args == [f"--model={onnx_nchw}", "--framework=5", f"--output={tmp_path / 'fer'}",
                    "--input_format=NCHW", "--input_shape=image:1,1,48,48", "--soc_version=Ascend310P3",
                    "--log=error"]
    assert report.path == f"{tmp_path / 'fer'}.om" and (tmp_path / "fer.om").is_file()
    export_om(onnx_nchw, tmp_path / "dyn", dynamic_batch="1,2,4,8")
    args = json.loads(fake_atc.read_text())
    assert "--input_shape=image:-1,1,48,48" in args and "--dynamic_batch_size=1,2,4,8" in args


def test_om_errors(onnx_nchw, onnx_nhwc, fake_atc, tmp_path, monkeypatch, tiny_run):
    monkeypatch.setenv("ATC_FAIL", "1")
    with pytest.raises(ExportError, match="atc failed with exit code 3(.|\n)*E19010"):
        export_om(onnx_nchw, tmp_path / "x")
    with pytest.raises(BadInputError, match="not N,C,H,W; export again with --nchw"):
        export_om(onnx_nhwc[0], tmp_path / "x")
    with pytest.raises(BadInputError, match="unknown --soc-version 'Ascend999'"):
        export_om(onnx_nchw, tmp_path / "x", soc_version="Ascend999")
    with pytest.raises(BadInputError, match="no such ONNX file"):
        export_om(tmp_path / "none.onnx", tmp_path / "x")
    opset17 = tmp_path / "o17.onnx"
    export_onnx(tiny_run, opset17, nchw=True, opset=17, verify=False)
    with pytest.raises(BadInputError, match="opset 17 is not one atc converts"):
        export_om(opset17, tmp_path / "x")


def test_om_cli_dry_run_and_missing_atc(onnx_nchw, tmp_path):
    r = run_cli("export", "om", onnx_nchw, tmp_path / "fer", "--dry-run", "--batch", "4")
    assert r.returncode == 0
    assert r.stdout.strip().startswith("atc --model=") and "--input_shape=image:4,1,48,48" in r.stdout
    env = {"PATH": os.path.dirname(sys.executable)}  # no atc anywhere
    r = run_cli("export", "om", onnx_nchw, tmp_path / "fer", env=env)
    assert r.returncode == 1 and "set_env.sh" in r.stderr and "atc --model=" in r.stderr


def test_tflite_float_and_quantized(tiny_run, synth_csv, tmp_path):
    plain = export_tflite(tiny_run, tmp_path / "m.tflite", data=synth_csv)
    assert plain.max_abs_diff <= 1e-4 and plain.top1_agreement == 1.0
    half = export_tflite(tiny_run, tmp_path / "h.tflite", quantize="float16", data=synth_csv)
    assert half.details["bytes"] < plain.details["bytes"] * 0.6
    q = export_tflite(tiny_run, tmp_path / "q.tflite", quantize="int8", data=synth_csv)
    assert "accuracy_change" in q.details and q.top1_agreement >= 0.8
    assert json.loads((tmp_path / "q.labels.json").read_text())[3] == "happy"
    r = run_cli("export", "tflite", tiny_run, tmp_path / "c.tflite")
    assert r.returncode == 0 and "TFLite" in r.stdout
    with pytest.raises(BadInputError, match="int8 quantisation needs data"):
        export_tflite(tiny_run, tmp_path / "z.tflite", quantize="int8")


def test_tflite_that_fails_verification_is_deleted(tiny_run, tmp_path):
    with pytest.raises(ExportError, match="the file was deleted"):
        export_tflite(tiny_run, tmp_path / "m.tflite", tolerance=0.0)
    assert not (tmp_path / "m.tflite").exists()
    with pytest.raises(BadInputError, match="quantize"):
        export_tflite(tiny_run, tmp_path / "m.tflite", quantize="int4")


def test_export_of_the_pretrained_model(onnx_nhwc, tmp_path, monkeypatch, synth_csv, capsys):
    """The shipped model is ONNX: copied to ONNX, handed to atc for OM, refused for TFLite."""
    import shutil

    from fercsv.export import export
    from fercsv.runtime import shipped

    path, _ = onnx_nhwc
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(path, weights / "fer2013.onnx")
    monkeypatch.setattr(shipped, "_folder", lambda: weights)
    report = export(None, tmp_path / "copy.onnx", format="onnx")
    assert (tmp_path / "copy.onnx").read_bytes() == path.read_bytes() and "copied" in str(report)
    with pytest.raises(BadInputError, match="TFLite export needs a Keras model"):
        export("pretrained:fer2013", tmp_path / "m.tflite", format="tflite")
    # to OM: the NHWC model gets a transpose in front (same outputs), then atc converts that file
    report = export("fer2013", tmp_path / "m", format="om", dry_run=True)
    assert f"--model={tmp_path / 'm.onnx'}" in report.details["command"]
    assert "--input_shape=image:1,1,48,48" in report.details["command"]
    faces = fercsv.read_csv(synth_csv).images[:9].astype(np.float32)[..., None] / 255.0
    nhwc = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    nchw = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(nhwc.run(None, {"image": faces})[0],
                                  nchw.run(None, {"image": np.transpose(faces, (0, 3, 1, 2))})[0])
    report = export(None, tmp_path / "nchw.onnx", format="onnx", nchw=True)
    assert report.max_abs_diff == 0.0 and "N,1,48,48" in str(report)
    with pytest.raises(BadInputError, match="format .* must be one of onnx, om, tflite"):
        export(None, tmp_path / "m.x", format="coreml")
    # The CLI without a model: the default pretrained one, for export and evaluate alike.
    from fercsv.cli import main

    assert main(["export", "onnx", str(tmp_path / "cli.onnx")]) == 0
    assert (tmp_path / "cli.onnx").read_bytes() == path.read_bytes()
    capsys.readouterr()
    assert main(["evaluate", str(synth_csv), "--split", "PublicTest", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    direct = fercsv.evaluate(path, synth_csv, split="PublicTest")
    assert report["n"] == 56 and report["accuracy"] == pytest.approx(direct.accuracy)
