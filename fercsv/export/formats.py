"""Export trained models: ONNX (verified against Keras with onnxruntime), Ascend OM via atc, TFLite.

Keras 3 models go to ONNX through ``tf2onnx.convert.from_function`` on a
``tf.function`` with an explicit input signature (``from_keras`` fails on
Keras 3). Whatever precision trained a model, the exported file computes in
float32 (unless quantised) and is checked against a float32 Keras forward pass
of the same weights; the report names that reference and the training precision.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.version import __version__
from ..core.atomic import atomic_path
from ..core.errors import BadInputError, ExportError, FercsvError, first_line, require
from ..data.labels import USAGES
from ..training.models import INPUT_NAME
from ..runtime.contract import OnnxModel, layout_of, to_input

#: Post-training quantisation of TFLite exports (None: float32).
QUANTIZATIONS = ("float16", "int8")

#: Tolerance of the Keras-vs-runtime check.
MAX_ABS_DIFF = 1e-4
#: What exports are checked against: the model's weights run by Keras in float32. A model trained in
#: mixed precision keeps its policy in its .keras file, so Keras runs it in bfloat16/float16, which
#: differs from any float32 file by 1e-4 to 1e-2 (issue 19): that is rounding, not an export error.
REFERENCE = "Keras float32"
#: Dtype policies rebuilt in float32 for export and its reference.
_LOW_PRECISION = ("mixed_bfloat16", "mixed_float16", "bfloat16", "float16")
#: ONNX opsets that Ascend's atc converts.
ATC_OPSETS = range(11, 16)
_SOC = re.compile(r"^Ascend(310|310P[1-9]|310B[1-9]|910|910[AB]|910B[1-9]|910_93[0-9]{2}|610|710)$")


@dataclass
class ExportReport:
    """What was written and how closely it matches Keras float32 (:data:`REFERENCE`)."""

    path: str
    format: str
    max_abs_diff: float = None
    top1_agreement: float = None
    n_checked: int = 0
    details: dict = field(default_factory=dict)
    #: What the file was compared with (:data:`REFERENCE`), on which images, and the
    #: Keras policy the model was trained in ("float32", "mixed_bfloat16"...).
    reference: str = None
    checked_on: str = None
    trained_precision: str = None

    def __str__(self):
        text = f"wrote {self.format} model {self.path}"
        if self.max_abs_diff is not None:
            text += (f"; max |{self.format} - {self.reference or 'Keras'}| = {self.max_abs_diff:.2e} on "
                     f"{self.n_checked} {self.checked_on or 'images'}, top-1 agreement {self.top1_agreement:.2%}")
            if self.trained_precision:
                text += f"; the model was trained in {self.trained_precision}"
        for k, v in self.details.items():
            text += f"\n  {k}: {v}"
        return text


def _compute_precision(model):
    """The low-precision policy a Keras model computes in ("mixed_bfloat16"...), or "float32".

    Read from the layers, so it holds for a RUN_DIR, a .keras file or a model in memory.
    """
    from ..runtime.tfutil import walk_layers

    names = {layer.dtype_policy.name for layer in walk_layers(model)
             if type(layer).__name__ != "InputLayer"}  # an input layer computes nothing
    low = sorted(names & set(_LOW_PRECISION))
    return low[0] if low else "float32"


def _float32_model(model):
    """The same weights computing in float32: low-precision layers rebuilt with a float32 policy.

    Exports are converted from, and checked against, this model. Raises ExportError if a
    layer still computes in low precision, rather than export and compare in bfloat16.
    """
    from ..runtime.tfutil import precision_policy

    def fix(node, key=None):
        if isinstance(node, dict):
            if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
                    node.get("config", {}).get("name") in _LOW_PRECISION:
                return {**node, "config": {**node["config"], "name": "float32"}}
            return {k: fix(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v, key) for v in node]
        if node in _LOW_PRECISION and (key == "dtype" or str(node).startswith("mixed_")):
            return "float32"
        return node

    config = model.get_config()
    fixed = fix(config)
    if fixed == config and _compute_precision(model) == "float32":
        return model
    # A low-precision model whose config this does not recognise is still rebuilt, so that the
    # check below refuses it instead of exporting, and comparing, in bfloat16.
    # Built under a float32 global policy too: a layer whose config carries no policy of its
    # own would otherwise take whatever policy the caller's session has set.
    with precision_policy("float32"):
        clone = model.__class__.from_config(fixed)
    clone.set_weights([np.asarray(w, np.float32) for w in model.get_weights()])
    left = _compute_precision(clone)
    if left != "float32":
        raise ExportError(f"could not rebuild the {_compute_precision(model)} model in float32 (some layers "
                          f"still compute in {left}), so its export could not be checked in float32; "
                          "retrain it with --precision float32 (precision='float32') and export that")
    return clone


def _load_keras(model_or_run_dir):
    """The Keras model as trained (its own dtype policy) and its label names."""
    from ..runtime.loading import load_model

    loaded = load_model(model_or_run_dir)
    if loaded.kind != "keras":
        raise BadInputError(f"{loaded.source}: this export needs a Keras model (.keras or RUN_DIR), not "
                            f"{loaded.kind}; pretrained models ship as ONNX (export them to onnx or om)")
    return loaded.keras_model, loaded.label_names


def _sample_batch(data, shape, n=64, seed=0):
    if data is None:
        return np.random.default_rng(seed).random((n,) + tuple(shape), dtype=np.float32)
    from ..data.dataset import FERDataset, read_csv

    ds = data if isinstance(data, FERDataset) else read_csv(data)
    rows = np.random.default_rng(seed).permutation(len(ds))[:n]
    return to_input(ds.images[rows])


def _compare(reference, other):
    if not np.isfinite(other).all():
        return float("inf"), 0.0
    diff = float(np.max(np.abs(reference - other))) if reference.size else 0.0
    agree = float(np.mean(reference.argmax(1) == other.argmax(1))) if reference.size else 1.0
    return diff, agree


def _describe_data(data):
    if data is None:
        return "random images"
    source = getattr(data, "source", None) if not isinstance(data, (str, Path)) else data
    return f"faces from {source}" if source else "faces"


def _check(report, trained, reference, x, got, data):
    """Fill ``report`` with how ``got`` (the exported file's outputs on ``x``) compares with Keras float32."""
    expected = np.asarray(reference(x, training=False), np.float32)
    report.max_abs_diff, report.top1_agreement = _compare(expected, got)
    report.n_checked, report.reference, report.checked_on = len(x), REFERENCE, _describe_data(data)
    report.trained_precision = _compute_precision(trained)
    if reference is not trained:
        # How far the model's own low-precision forward pass (what Keras prediction from the
        # RUN_DIR runs) is from float32, so that gap is not taken for an export error.
        own = np.asarray(trained(x, training=False), np.float32)
        report.details[f"Keras {report.trained_precision} vs Keras float32"] = (
            f"max |diff| {_compare(expected, own)[0]:.2e} on the same images: rounding in "
            f"{report.trained_precision}, not an export error")
    return report


def export_onnx(model, path: str | Path, *, opset: int = 13, nchw: bool = False, verify: bool = True, data=None,
                tolerance: float = MAX_ABS_DIFF) -> ExportReport:
    """Export a Keras model / RUN_DIR to ONNX and check it against Keras with onnxruntime.

    The ONNX input is named ``image`` with a dynamic batch dimension (NHWC, or
    N,1,H,W with ``nchw=True``, the layout Ascend's atc expects); the output is
    the softmax ``probabilities``; ``metadata_props`` carry the label names.
    Verification runs the file and Keras in float32 (:data:`REFERENCE`, also for a
    mixed-precision model) on the same batch (images of ``data`` if given, else
    random) and fails if the max absolute difference exceeds ``tolerance`` or
    any top-1 label differs. Returns an :class:`ExportReport`.

    ``model`` is a RUN_DIR, a .keras file or a Keras model; here an untrained one keeps it quick:

    >>> import fercsv, numpy as np, tempfile
    >>> d = tempfile.mkdtemp()
    >>> report = fercsv.export_onnx(fercsv.build_model("seed-cnn"), f"{d}/fer.onnx")
    >>> report.details["input"], report.reference, report.top1_agreement, report.max_abs_diff < 1e-4
    ('image N,48,48,1', 'Keras float32', 1.0, True)
    >>> model = fercsv.load_model(f"{d}/fer.onnx")               # onnxruntime, labels from the file
    >>> model.kind, model.label_names[3], model.predict(np.zeros((2, 48, 48, 1), np.float32)).shape
    ('onnx', 'happy', (2, 7))
    """
    from ..core.checks import integer
    from ..runtime.tfutil import import_tf

    integer("export_onnx", "opset", opset, minimum=7)
    _check_output(path, ".onnx")
    tf, _ = import_tf()
    tf2onnx = require("tf2onnx", extra="export", feature="ONNX export")
    onnx = require("onnx", extra="export", feature="ONNX export")
    trained, label_names = _load_keras(model)
    keras_model = _float32_model(trained)  # the file computes in float32 whatever trained the model
    h, w, c = keras_model.input_shape[1:]
    if nchw:
        spec = tf.TensorSpec((None, c, h, w), tf.float32, name=INPUT_NAME)
        fn = tf.function(lambda x: {"probabilities": keras_model(tf.transpose(x, [0, 2, 3, 1]), training=False)},
                         input_signature=[spec])
    else:
        spec = tf.TensorSpec((None, h, w, c), tf.float32, name=INPUT_NAME)
        fn = tf.function(lambda x: {"probabilities": keras_model(x, training=False)}, input_signature=[spec])
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=opset)
    except Exception as exc:
        raise ExportError(f"tf2onnx could not convert the model ({type(exc).__name__}: "
                          f"{first_line(exc)}); try another --opset") from None
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    for key, value in (("labels", json.dumps(label_names)), ("producer", f"fercsv {__version__}"),
                       ("input_layout", "NCHW" if nchw else "NHWC"),
                       ("input_range", "float32 in [0, 1], grayscale")):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    report = ExportReport(str(path), "ONNX", details={"opset": opset, "input": f"{INPUT_NAME} "
                                                       f"{'N,1,%d,%d' % (h, w) if nchw else 'N,%d,%d,1' % (h, w)}",
                                                       "labels": ", ".join(label_names)})
    if verify:
        try:
            _verify_onnx(trained, keras_model, path, report, data=data, tolerance=tolerance)
        except ExportError:
            path.unlink(missing_ok=True)
            raise
    return report


def verify_onnx(model, onnx_path, *, data=None, tolerance=MAX_ABS_DIFF, n=64):
    """Run onnxruntime and Keras in float32 on the same batch; raise ExportError unless they agree.

    ``model`` is a Keras model or RUN_DIR (trained in any precision: Keras runs its
    weights in float32, :data:`REFERENCE`); the batch is ``n`` images of ``data``
    (CSV or FERDataset) or random images. Returns an :class:`ExportReport`.
    """
    trained = model if hasattr(model, "get_config") else _load_keras(model)[0]
    report = ExportReport(str(onnx_path), "ONNX")
    return _verify_onnx(trained, _float32_model(trained), onnx_path, report, data=data, tolerance=tolerance, n=n)


def _verify_onnx(trained, keras_model, onnx_path, report, *, data, tolerance, n=64):
    ort = require("onnxruntime", extra="export", feature="ONNX verification")
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    nchw = layout_of(inp.shape) == "NCHW"
    x = _sample_batch(data, keras_model.input_shape[1:], n=n)
    feed = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))) if nchw else x
    _check(report, trained, keras_model, x, sess.run(None, {inp.name: feed})[0], data)
    if report.max_abs_diff > tolerance or report.top1_agreement < 1.0:
        raise ExportError(f"{onnx_path}: ONNX output differs from {REFERENCE} (max |diff| {report.max_abs_diff:.2e}, "
                          f"limit {tolerance:g}; top-1 agreement {report.top1_agreement:.2%}); the export "
                          "is not trustworthy: try another --opset, or check that this ONNX file belongs "
                          "to this model")
    return report


def atc_command(onnx_path, out_prefix, *, soc_version="Ascend310", batch=1, dynamic_batch=None,
                extra_args=()):
    """The ``atc`` argument list for an NCHW ONNX model, checked before anything runs."""
    onnx = require("onnx", extra="export", feature="Ascend OM export")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise BadInputError(f"{onnx_path}: no such ONNX file; export one with: fercsv export onnx RUN_DIR "
                            "model.onnx --nchw --opset 13")
    if not _SOC.match(soc_version):
        raise BadInputError(f"unknown --soc-version {soc_version!r}; use one atc knows, e.g. Ascend310, "
                            "Ascend310P3, Ascend310B1, Ascend910, Ascend910B3")
    try:
        proto = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:
        raise BadInputError(f"{onnx_path}: not a readable ONNX model ({first_line(exc, 120)})") from None
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset not in ATC_OPSETS:
        raise BadInputError(f"{onnx_path}: opset {opset} is not one atc converts (11-15); export again "
                            "with --opset 13")
    inp = proto.graph.input[0]
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] not in (1, 3):
        raise BadInputError(f"{onnx_path}: input {inp.name} has shape {dims}, not N,C,H,W; export again "
                            "with --nchw")
    if dynamic_batch:
        gears = [int(g) for g in str(dynamic_batch).replace(" ", "").split(",") if g]
        if not gears or min(gears) < 1:
            raise BadInputError(f"--dynamic-batch needs positive batch sizes like 1,2,4,8, not {dynamic_batch!r}")
        shape = f"{inp.name}:-1,{dims[1]},{dims[2]},{dims[3]}"
    else:
        if int(batch) < 1:
            raise BadInputError(f"--batch must be a positive integer, not {batch}")
        shape = f"{inp.name}:{int(batch)},{dims[1]},{dims[2]},{dims[3]}"
    cmd = ["atc", f"--model={onnx_path}", "--framework=5", f"--output={out_prefix}",
           "--input_format=NCHW", f"--input_shape={shape}", f"--soc_version={soc_version}", "--log=error"]
    if dynamic_batch:
        cmd.append(f"--dynamic_batch_size={','.join(map(str, gears))}")
    return cmd + list(extra_args)


def export_om(onnx_path, out_prefix, *, soc_version="Ascend310", input_shape=None, dynamic_batch=None,
              batch=1, extra_args=(), dry_run=False):
    """Convert an NCHW ONNX model to an Ascend ``.om`` with ``atc``; returns an :class:`ExportReport`.

    ``dry_run`` only builds and prints the command. Without ``atc`` on PATH
    the error says to source CANN's ``set_env.sh`` and shows the command.

    The ONNX file must be NCHW (``export_onnx(..., nchw=True)``, CLI ``--nchw``); a dry run needs no atc:

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = fercsv.export_onnx(fercsv.build_model("seed-cnn"), f"{d}/fer.onnx", nchw=True)
    >>> report = fercsv.export_om(f"{d}/fer.onnx", f"{d}/fer", soc_version="Ascend310P3", dry_run=True)
    >>> report.path.endswith("fer.om"), report.format
    (True, 'Ascend OM')
    >>> print(report.details["command"])                                    # doctest: +ELLIPSIS
    atc --model=/.../fer.onnx --framework=5 --output=/.../fer --input_format=NCHW --input_shape=image:1,1,48,48 ...
    """
    cmd = atc_command(onnx_path, out_prefix, soc_version=soc_version, batch=batch,
                      dynamic_batch=dynamic_batch, extra_args=extra_args)
    if input_shape:
        cmd = [a if not a.startswith("--input_shape=") else f"--input_shape={input_shape}" for a in cmd]
    line = shlex.join(cmd)
    report = ExportReport(f"{out_prefix}.om", "Ascend OM", details={"command": line})
    if dry_run:
        return report
    if shutil.which("atc") is None:
        raise FercsvError("atc (Ascend Tensor Compiler) is not on PATH; on the Ascend machine run "
                          "'source /usr/local/Ascend/ascend-toolkit/set_env.sh' (CANN), then: " + line)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise ExportError(f"atc failed with exit code {proc.returncode}; its last output:\n{tail}")
    om = Path(f"{out_prefix}.om")
    if not om.is_file():
        raise ExportError(f"atc exited 0 but {om} was not written; its output:\n{proc.stdout[-800:]}")
    return report


def export_tflite(model, path: str | Path, *, quantize: str | None = None, data=None, verify: bool = True,
                  tolerance: float | None = None) -> ExportReport:
    """Export to TFLite (optionally float16 or int8 quantised) and check it with the TFLite interpreter.

    int8 needs ``data`` (CSV or FERDataset): Training images calibrate, and the
    accuracy change is measured on PublicTest (or all rows when absent). A file
    whose outputs differ from Keras float32 (:data:`REFERENCE`, also for a mixed-precision
    model) by more than ``tolerance`` (default: 1e-4,
    2e-2 for float16, 0.2 for int8) is deleted and ExportError raised.

    ``model`` is a RUN_DIR, a .keras file or a Keras model; here an untrained one keeps it quick:

    >>> import fercsv, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> report = fercsv.export_tflite(fercsv.build_model("seed-cnn"), f"{d}/fer.tflite")
    >>> report.format, report.reference, report.max_abs_diff < 1e-4, sorted(os.listdir(d))
    ('TFLite', 'Keras float32', True, ['fer.labels.json', 'fer.tflite'])
    >>> fercsv.load_model(f"{d}/fer.tflite").label_names[3]                 # labels from fer.labels.json
    'happy'
    """
    from ..core.checks import choice
    from ..runtime.tfutil import import_tf

    choice("export_tflite", "quantize", quantize, (None, *QUANTIZATIONS))
    if tolerance is not None:
        from ..core.checks import number

        number("export_tflite", "tolerance", tolerance, minimum=0)
    if quantize == "int8" and data is None:
        raise BadInputError("int8 quantisation needs data for calibration: pass data= (CLI --data CSV)")
    _check_output(path, ".tflite")
    tf, _ = import_tf()
    trained, label_names = _load_keras(model)
    keras_model = _float32_model(trained)  # the file computes in float32 whatever trained the model
    shape = keras_model.input_shape[1:]
    # Through a SavedModel: converting a concrete function of a Keras 3 model directly
    # gave NaN outputs here (its variables were not carried over).
    saved = Path(tempfile.mkdtemp(prefix="fercsv-savedmodel-"))
    keras_model.export(str(saved), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    ds = None
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        from ..data.dataset import FERDataset, read_csv

        ds = data if isinstance(data, FERDataset) else read_csv(data)
        calib = ds.subset(USAGES[0]) if (ds.usage == USAGES[0]).any() else ds
        rows = np.random.default_rng(0).permutation(len(calib))[:200]
        x_cal = to_input(calib.images[rows])

        def representative():
            for i in range(len(x_cal)):
                yield [x_cal[i:i + 1]]

        converter.representative_dataset = representative
    try:
        blob = converter.convert()
    except Exception as exc:
        raise ExportError(f"TFLite conversion failed ({type(exc).__name__}: {first_line(exc)})") from None
    finally:
        shutil.rmtree(saved, ignore_errors=True)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)
    report = ExportReport(str(path), f"TFLite{' ' + quantize if quantize else ''}",
                          details={"labels": ", ".join(label_names), "bytes": len(blob)})
    if verify:
        x = _sample_batch(data, shape)
        _check(report, trained, keras_model, x, tflite_predict(path, x), data)
        limit = tolerance if tolerance is not None else (
            MAX_ABS_DIFF if not quantize else (2e-2 if quantize == "float16" else 0.2))
        if report.max_abs_diff > limit:
            path.unlink(missing_ok=True)  # a model that failed its check is not left behind
            raise ExportError(f"{path}: TFLite output differs from {REFERENCE} by {report.max_abs_diff:.2e} "
                              f"(limit {limit:g}); the file was deleted")
    _write_labels_next_to(path, label_names)
    if quantize == "int8" and ds is not None:
        val = ds.subset(USAGES[1]) if (ds.usage == USAGES[1]).any() else ds
        xv = to_input(val.images)
        acc_k = float(np.mean(np.asarray(keras_model.predict(xv, verbose=0)).argmax(1) == val.labels))
        acc_t = float(np.mean(tflite_predict(path, xv).argmax(1) == val.labels))
        report.details.update(keras_accuracy=f"{acc_k:.2%}", tflite_accuracy=f"{acc_t:.2%}",
                              accuracy_change=f"{(acc_t - acc_k) * 100:+.2f} points on {len(val)} images")
    return report


def _write_labels_next_to(path, label_names):
    with atomic_path(Path(path).with_suffix(".labels.json")) as tmp:
        tmp.write_text(json.dumps(label_names))


def tflite_predict(path, x):
    """Run a TFLite model on (N, H, W, 1) float32 images (the TFLite runtime of :mod:`fercsv.runtime.loading`)."""
    from ..runtime.loading import TFLiteModel

    return TFLiteModel(path).predict(x)


def _check_output(path, suffix):
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise BadInputError(f"{path}: the output file must end in {suffix}")
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder; give a file name ending in {suffix}")
    return path


#: Export formats and the function behind each (``export(model, out, format=...)``, CLI ``fercsv export``).
FORMATS = {"onnx": "export_onnx", "om": "export_om", "tflite": "export_tflite"}


def export(model, out: str | Path, *, format: str, **options) -> ExportReport:
    """Export ``model`` to ``format`` (a key of :data:`FORMATS`): the twin of ``fercsv export``.

    ``model`` is a RUN_DIR or .keras file, or a pretrained name / None for the shipped
    model (which is ONNX: to ``onnx`` it is copied, or made NCHW with ``nchw=True``; to ``om``
    it is made NCHW (kept as ``OUT.onnx``) and converted by atc; ``tflite`` says it needs a
    Keras model).

    >>> export("run", "m.tflite", format="coreml")
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: export: format (CLI --format) must be one of onnx, om, tflite; got 'coreml'
    """
    from ..runtime import shipped as pretrained
    from ..core.checks import choice

    choice("export", "format", format, FORMATS)
    if model is None or (isinstance(model, str) and pretrained.is_pretrained(model)):
        name = pretrained.DEFAULT_PRETRAINED if model is None else model.removeprefix("pretrained:")
        if format == "tflite":
            raise BadInputError(f"the pretrained model {name!r} ships as ONNX; TFLite export needs a Keras "
                                "model (a RUN_DIR or .keras file from fercsv train)")
        source = pretrained.pretrained_path(name)
        if format == "onnx":
            return nchw_onnx(source, out) if options.get("nchw") else _copy_onnx(source, out)
        # atc wants N,C,H,W: the shipped NHWC model gets a transpose in front, kept beside the .om
        model = nchw_onnx(source, f"{out}.onnx").path
    elif format == "om" and Path(str(model)).suffix.lower() != ".onnx":
        raise BadInputError(f"{model}: om export starts from an NCHW .onnx file; make one with: "
                            "fercsv export onnx RUN_DIR model.onnx --nchw")
    return globals()[FORMATS[format]](model, out, **options)


def nchw_onnx(source, out) -> ExportReport:
    """Write the NHWC ONNX model ``source`` as ``out`` taking N,C,H,W input (what Ascend's atc needs).

    A Transpose is put in front of the unchanged graph; the input keeps its name, and onnxruntime
    checks that both files give the same outputs on the same faces. An NCHW model is copied.

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp()
    >>> report = nchw_onnx(fercsv.pretrained.path("fer2013"), f"{d}/fer2013-nchw.onnx")
    >>> fercsv.load_model(report.path).input_shape, report.max_abs_diff
    ((48, 48, 1), 0.0)
    """
    onnx = require("onnx", extra="export", feature="ONNX layout change")
    out = _check_output(out, ".onnx")
    proto = onnx.load(str(source))
    inp = proto.graph.input[0]
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 4 or layout_of(dims) == "NCHW":
        return _copy_onnx(source, out)
    inner = f"{inp.name}_nhwc"
    for node in proto.graph.node:
        node.input[:] = [inner if name == inp.name else name for name in node.input]
    proto.graph.node.insert(0, onnx.helper.make_node("Transpose", [inp.name], [inner], perm=[0, 2, 3, 1],
                                                     name="nchw_to_nhwc"))
    shape = inp.type.tensor_type.shape.dim
    batch = shape[0].dim_param or "batch"
    h, w, c = dims[1:]
    del shape[:]
    for d in (batch, c, h, w):
        shape.add().CopyFrom(onnx.TensorShapeProto.Dimension(**({"dim_param": d} if isinstance(d, str)
                                                                  else {"dim_value": d})))
    onnx.checker.check_model(proto)
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    x = np.random.default_rng(0).random((8, h, w, c), dtype=np.float32)
    report = ExportReport(str(out), "ONNX", details={"input": f"{inp.name}: N,{c},{h},{w} (a transpose in front "
                                                     f"of {Path(source).name})"})
    report.max_abs_diff, report.top1_agreement = _compare(OnnxModel(source).predict(x), OnnxModel(out).predict(x))
    report.n_checked, report.reference, report.checked_on = len(x), f"the NHWC {Path(source).name}", "random images"
    if report.max_abs_diff > MAX_ABS_DIFF or report.top1_agreement < 1.0:
        out.unlink(missing_ok=True)
        raise ExportError(f"{out}: the NCHW copy differs from {source} (max |diff| {report.max_abs_diff:.2e}); "
                          "the file was deleted")
    return report


def _copy_onnx(source, out):
    out = _check_output(out, ".onnx")
    with atomic_path(out) as tmp:
        shutil.copyfile(source, tmp)
    return ExportReport(str(out), "ONNX", details={"copied from": str(source)})
