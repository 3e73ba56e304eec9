"""Load a model by what the user has: a RUN_DIR, a .keras/.onnx/.tflite file, a pretrained name.

Every loaded model is a :class:`~fercsv.runtime.contract.Runtime` with ``predict(faces)``;
prediction code never asks which runtime sits underneath. ONNX needs only
onnxruntime; the Keras and TFLite runtimes here import TensorFlow when loaded.
"""
from pathlib import Path

import numpy as np

from ..core.errors import BadInputError, first_line
from . import shipped
from .contract import OnnxModel, Runtime, default_labels, read_labels  # noqa: F401 - public here too

#: Old name of the runtime interface, kept for code that checks ``isinstance(m, LoadedModel)``.
LoadedModel = Runtime

#: Model file types by suffix, and the files looked for in a RUN_DIR (in this order).
MODEL_SUFFIXES = (".keras", ".h5", ".onnx", ".tflite")
RUN_DIR_MODELS = ("best.keras", "last.keras", "model.onnx")


class KerasModel(Runtime):
    """A Keras 3 model; one traced function with a dynamic batch serves every call."""

    kind = "keras"

    def __init__(self, keras_model, *, label_names=None, source="memory"):
        self.keras_model = keras_model
        self._fn = None
        n = int(keras_model.output_shape[-1])
        super().__init__(label_names or default_labels(n), keras_model.input_shape[1:], source)

    def _run(self, x):
        if self._fn is None:
            from .tfutil import import_tf

            tf, _ = import_tf()
            spec = tf.TensorSpec((None,) + tuple(self.input_shape), tf.float32)
            self._fn = tf.function(lambda t: self.keras_model(t, training=False), input_signature=[spec])
        return self._fn(x).numpy()


class TFLiteModel(Runtime):
    """A TFLite model on TensorFlow's interpreter; int8 inputs and outputs are (de)quantised."""

    kind = "tflite"

    def __init__(self, path, *, label_names=None):
        import warnings

        from .tfutil import import_tf

        tf, _ = import_tf()
        with warnings.catch_warnings():  # its deprecation notice points to a package fercsv does not need
            warnings.simplefilter("ignore", UserWarning)
            try:
                self.interpreter = tf.lite.Interpreter(model_path=str(path))
            except ValueError as exc:
                raise BadInputError(f"{path}: cannot load as a TFLite model ({first_line(exc, 120)})") from None
        inp, out = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        n = int(out["shape"][-1])
        super().__init__(label_names or read_labels(path, n), tuple(int(d) for d in inp["shape"][1:]), path)

    def _run(self, x):
        from .tfutil import quiet_native_logs

        with quiet_native_logs():  # the interpreter announces its CPU delegate on first use
            return self._invoke(x)

    def _invoke(self, x):
        interp = self.interpreter
        inp = interp.get_input_details()[0]
        interp.resize_tensor_input(inp["index"], (len(x),) + tuple(x.shape[1:]))
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        feed = x
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            feed = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], feed)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y


def is_model_spec(spec) -> bool:
    """True when ``spec`` names a model: a pretrained name, a model file name, or a RUN_DIR holding one.

    >>> is_model_spec("pretrained:ferplus"), is_model_spec("photo.jpg")
    (True, False)
    """

    if isinstance(spec, str) and shipped.is_pretrained(spec):
        return True
    path = Path(spec)
    if path.is_dir():
        return any((path / name).is_file() for name in RUN_DIR_MODELS)
    return path.suffix.lower() in MODEL_SUFFIXES  # a missing model file is still meant as the model


def resolve_model_path(path):
    """The model file for a RUN_DIR (best.keras, else last.keras, else model.onnx) or the path itself."""
    path = Path(path)
    if path.is_dir():
        for name in RUN_DIR_MODELS:
            if (path / name).is_file():
                return path / name
        raise BadInputError(f"{path}: no best.keras, last.keras or model.onnx in this folder; "
                            "give a RUN_DIR from 'fercsv train' or a model file")
    if not path.is_file():
        raise BadInputError(f"{path}: no such model file or run folder")
    return path


def load_model(model=None, *, label_names=None) -> Runtime:
    """Load a model: a RUN_DIR, a .keras/.onnx/.tflite file, a pretrained name (``"fer2013"``,
    ``"pretrained:ferplus"``), an in-memory Keras model, or None for the default pretrained model.

    Returns a :class:`~fercsv.runtime.contract.Runtime` (``predict``, ``label_names``, ``input_shape``).

    >>> import numpy as np
    >>> model = load_model("fer2013")                       # the shipped model; onnxruntime, no TensorFlow
    >>> model.kind, model.input_shape, model.label_names[:2]
    ('onnx', (48, 48, 1), ['angry', 'disgust'])
    >>> model.predict(np.zeros((5, 48, 48, 1), np.float32)).shape      # (N, H, W, 1) floats in [0, 1]
    (5, 7)
    >>> load_model("no/such/run")
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: no/such/run: no such model file or run folder
    """

    if isinstance(model, Runtime):
        return model
    if model is None:
        model = shipped.DEFAULT_PRETRAINED
    if not isinstance(model, (str, Path)):
        if not hasattr(model, "output_shape"):
            raise BadInputError(f"cannot use a {type(model).__name__} as a model; give a RUN_DIR, a model "
                                "file, a pretrained name or a Keras model")
        return KerasModel(model, label_names=label_names)
    if isinstance(model, str) and shipped.is_pretrained(model):
        return OnnxModel(shipped.pretrained_path(model.removeprefix("pretrained:")), label_names=label_names)
    path = resolve_model_path(model)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxModel(path, label_names=label_names)
    if suffix == ".tflite":
        return TFLiteModel(path, label_names=label_names)
    if suffix not in (".keras", ".h5"):
        raise BadInputError(f"{path}: not a model file; give a .keras, .onnx or .tflite file or a RUN_DIR")
    from .tfutil import import_tf

    _, keras = import_tf()
    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip errors, missing config, wrong file type
        raise BadInputError(f"{path}: cannot load as a Keras model ({type(exc).__name__}: "
                            f"{first_line(exc, 120)}); give a .keras file saved by Keras 3") from None
    n = int(km.output_shape[-1])
    run_dir = path.parent
    names = label_names or read_labels(run_dir if (run_dir / "labels.json").is_file() else path, n)
    return KerasModel(km, label_names=names, source=path)


def pretrained(name: str = shipped.DEFAULT_PRETRAINED) -> Runtime:
    """Load a model shipped inside fercsv, ready to predict, on onnxruntime (no TensorFlow).

    ``name`` is one of ``pretrained.names`` (``"fer2013"``, ``"ferplus"``). What is known about
    each one (training command, seed, accuracy and the split it was measured on) is
    ``pretrained.model_card(name)``; its file is ``pretrained.path(name)``.

    >>> import fercsv
    >>> model = fercsv.pretrained("fer2013")
    >>> model.label_names[3], model.input_shape
    ('happy', (48, 48, 1))
    >>> fercsv.pretrained.model_card("ferplus")["labels"][-1]
    'contempt'
    """
    return load_model(shipped.pretrained_path(str(name).removeprefix("pretrained:")))


# The function is the public ``fercsv.pretrained``; the facts about the shipped models hang off it,
# so ``fercsv.pretrained.model_card(...)`` reads as it did when ``pretrained`` was a module.
pretrained.names = tuple(shipped.PRETRAINED)
pretrained.default = shipped.DEFAULT_PRETRAINED
pretrained.model_card = shipped.model_card
pretrained.path = shipped.pretrained_path
pretrained.describe = dict(shipped.PRETRAINED)
