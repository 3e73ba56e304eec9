"""The model contract, and the ONNX runtime: what every fercsv model takes and gives.

A model takes grayscale faces as float32 in [0, 1] (uint8 divided by 255), NHWC
``(N, H, W, 1)`` or NCHW ``(N, 1, H, W)``, and gives softmax probabilities
``(N, classes)`` in the order of its label names. :func:`to_input` is the only place
that turns images into that input. Each runtime is a :class:`Runtime`; this module
holds the ONNX one and imports only numpy and onnxruntime, so ``pip install
"fercsv[predict]"`` predicts with an ONNX model and no TensorFlow. The Keras and
TFLite runtimes live in :mod:`fercsv.runtime.loading`.
"""
import json
from pathlib import Path

import numpy as np

from ..core.errors import BadInputError, first_line, require
from ..data.labels import code_names

#: uint8 grey levels are divided by this to make a model's input.
INPUT_SCALE = 255.0

#: Input layouts a model can take.
LAYOUTS = ("NHWC", "NCHW")


def to_input(images, *, layout="NHWC"):
    """Faces as a model input: float32 in [0, 1], ``(N, H, W, 1)`` or ``(N, 1, H, W)``.

    ``images`` is uint8 ``(H, W)``, ``(N, H, W)`` or ``(N, H, W, 1)``; float arrays are taken as
    already scaled to [0, 1].

    >>> to_input(np.full((2, 3, 3), 255, np.uint8)).shape, round(float(to_input(np.full((3, 3), 51, np.uint8)).max()), 6)
    ((2, 3, 3, 1), 0.2)
    >>> to_input(np.zeros((2, 3, 3), np.uint8), layout="NCHW").shape
    (2, 1, 3, 3)
    """
    x = np.asarray(images)
    x = x.astype(np.float32) / INPUT_SCALE if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if layout == "NCHW":
        x = np.transpose(x, (0, 3, 1, 2))
    elif layout != "NHWC":
        raise BadInputError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    return np.ascontiguousarray(x)


def layout_of(shape) -> str:
    """``"NCHW"`` when a 4-d input shape has 1 or 3 channels second and not last, else ``"NHWC"``.

    >>> layout_of([None, 1, 48, 48]), layout_of(["batch", 48, 48, 1])
    ('NCHW', 'NHWC')
    """
    nchw = len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)
    return "NCHW" if nchw else "NHWC"


def default_labels(n_classes):
    """Label names for a model without a labels file, as a CSV of those codes would name them.

    >>> default_labels(7)[3], default_labels(8)[-1], default_labels(9)[-1]
    ('happy', 'contempt', 'class8')
    """
    return code_names(n_classes)


def read_labels(path, n_classes):
    """Label names from a labels.json next to or inside ``path``; :func:`default_labels` as a fallback."""
    path = Path(path)
    for candidate in (path / "labels.json", path.with_name("labels.json"), path.with_suffix(".labels.json")):
        if candidate.is_file():
            names = json.loads(candidate.read_text())
            if len(names) != n_classes:
                raise BadInputError(f"{candidate} lists {len(names)} labels but the model has "
                                    f"{n_classes} outputs; use the labels.json of this model")
            return names
    return default_labels(n_classes)


class Runtime:
    """A model ready to predict. Subclasses implement :meth:`_run` on a float32 NHWC batch.

    ``label_names``: class names in output order; ``input_shape``: ``(H, W, 1)``;
    ``source``: where it was loaded from; ``kind``: the runtime's name.
    """

    kind = "runtime"
    batch = 512

    def __init__(self, label_names, input_shape, source):
        self.label_names = list(label_names)
        self.input_shape = tuple(input_shape)
        self.source = str(source)

    def __repr__(self):
        return f"<{type(self).__name__} {self.source} {self.input_shape} {len(self.label_names)} classes>"

    def predict(self, x):
        """Class probabilities ``(N, classes)`` float32 for faces (uint8, or float32 in [0, 1])."""
        x = to_input(x)
        if any(want and got != want for got, want in zip(x.shape[1:3], self.input_shape[:2])):
            raise BadInputError(f"{self.source}: the model takes {self.input_shape[0]}x{self.input_shape[1]} "
                                f"faces, not {x.shape[1]}x{x.shape[2]}")
        out = [self._run(x[lo:lo + self.batch]) for lo in range(0, len(x), self.batch)]
        if not out:
            return np.zeros((0, len(self.label_names)), np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def _run(self, x):
        raise NotImplementedError


class OnnxModel(Runtime):
    """An ONNX model on onnxruntime (CPU); NCHW inputs are detected from the graph."""

    kind = "onnx"

    def __init__(self, path, *, label_names=None):
        ort = require("onnxruntime", extra="predict", feature="ONNX prediction")
        path = Path(path)
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BadInputError(f"{path}: cannot load as an ONNX model ({first_line(exc, 120)})") from None
        inp = self.session.get_inputs()[0]
        shape = [d if isinstance(d, int) else None for d in inp.shape]
        self.input_name = inp.name
        self.nchw = layout_of(shape) == "NCHW"
        hwc = (shape[2], shape[3], shape[1]) if self.nchw else tuple(shape[1:])
        meta = self.session.get_modelmeta().custom_metadata_map
        n = self.session.get_outputs()[0].shape[-1]
        names = label_names or (json.loads(meta["labels"]) if "labels" in meta else read_labels(path, n))
        super().__init__(names, hwc, path)

    def _run(self, x):
        feed = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))) if self.nchw else x
        return self.session.run(None, {self.input_name: feed})[0]
