"""Load trained models with their label names: ``.keras`` files, RUN_DIRs, and ONNX files.

A loaded model is a :class:`LoadedModel` with one ``predict(batch)`` method,
so prediction code does not care which runtime sits underneath.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BadInputError, require
from .labels import FER2013_LABELS


@dataclass
class LoadedModel:
    """A model ready to predict: ``predict(x)`` takes (N, H, W, 1) float32 in [0, 1]."""

    label_names: list
    input_shape: tuple
    kind: str
    source: str
    keras_model: object = None
    session: object = None
    input_name: str = None
    nchw: bool = False
    _fn: object = field(default=None, repr=False)

    def predict(self, x):
        """Class probabilities, (N, n_classes) float32."""
        x = np.asarray(x, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if self.kind == "onnx":
            feed = np.transpose(x, (0, 3, 1, 2)) if self.nchw else x
            return self.session.run(None, {self.input_name: np.ascontiguousarray(feed)})[0]
        if self._fn is None:
            tf = require("tensorflow", extra="train", feature="Keras prediction")
            spec = tf.TensorSpec((None,) + tuple(self.input_shape), tf.float32)
            # One traced function with a dynamic batch: no retracing per call or per batch size.
            self._fn = tf.function(lambda t: self.keras_model(t, training=False), input_signature=[spec])
        out = []
        for lo in range(0, len(x), 512):
            out.append(self._fn(x[lo:lo + 512]).numpy().astype(np.float32, copy=False))
        return np.concatenate(out) if out else np.zeros((0, len(self.label_names)), np.float32)


def default_labels(n_classes):
    """FER-2013 names for 7 outputs, ``class0..`` otherwise."""
    if n_classes == len(FER2013_LABELS):
        return list(FER2013_LABELS)
    return [f"class{i}" for i in range(n_classes)]


def read_labels(path, n_classes):
    """Label names from a labels.json next to or inside ``path``; FER-2013 names as a fallback."""
    path = Path(path)
    for candidate in (path / "labels.json", path.with_name("labels.json"),
                      path.with_suffix(".labels.json")):
        if candidate.is_file():
            names = json.loads(candidate.read_text())
            if len(names) != n_classes:
                raise BadInputError(f"{candidate} lists {len(names)} labels but the model has "
                                    f"{n_classes} outputs; use the labels.json of this model")
            return names
    return default_labels(n_classes)


def resolve_model_path(path):
    """The model file for a RUN_DIR (best.keras, else last.keras) or the path itself."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.keras", "last.keras", "model.onnx"):
            if (path / name).is_file():
                return path / name
        raise BadInputError(f"{path}: no best.keras, last.keras or model.onnx in this folder; "
                            "give a RUN_DIR from 'fercsv train' or a model file")
    if not path.is_file():
        raise BadInputError(f"{path}: no such model file or run folder")
    return path


def load_model(model, *, label_names=None):
    """Load a RUN_DIR, a ``.keras`` file, an ``.onnx`` file, or wrap an in-memory Keras model.

    Returns a :class:`LoadedModel`.
    """
    if isinstance(model, LoadedModel):
        return model
    if not isinstance(model, (str, Path)):
        shape = tuple(model.input_shape[1:])
        n = int(model.output_shape[-1])
        return LoadedModel(list(label_names or default_labels(n)), shape, "keras", "memory",
                           keras_model=model)
    path = resolve_model_path(model)
    run_dir = path.parent
    if path.suffix == ".onnx":
        return _load_onnx(path, label_names)
    if path.suffix not in (".keras", ".h5"):
        raise BadInputError(f"{path}: not a Keras (.keras) or ONNX (.onnx) model file")
    from .tfutil import import_tf

    _, keras = import_tf()
    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip errors, missing config, wrong file type
        raise BadInputError(f"{path}: cannot load as a Keras model ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120]}); give a .keras file saved by Keras 3") from None
    n = int(km.output_shape[-1])
    names = list(label_names or read_labels(run_dir if (run_dir / "labels.json").is_file() else path, n))
    return LoadedModel(names, tuple(km.input_shape[1:]), "keras", str(path), keras_model=km)


def _load_onnx(path, label_names):
    ort = require("onnxruntime", extra="export", feature="ONNX prediction")
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BadInputError(f"{path}: cannot load as an ONNX model ({str(exc).splitlines()[0][:120]})") from None
    inp = sess.get_inputs()[0]
    meta = sess.get_modelmeta().custom_metadata_map
    shape = [d if isinstance(d, int) else None for d in inp.shape]
    nchw = len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)
    hwc = (shape[2], shape[3], shape[1]) if nchw else tuple(shape[1:])
    n = sess.get_outputs()[0].shape[-1]
    names = label_names or (json.loads(meta["labels"]) if "labels" in meta else read_labels(path, n))
    return LoadedModel(list(names), hwc, "onnx", str(path), session=sess, input_name=inp.name, nchw=nchw)
