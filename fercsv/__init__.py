"""fercsv: facial-expression recognition kit for FER-2013-style pixel CSVs.

The whole user API is this module's names. Data (no TensorFlow, imported at once):
``read_csv``, ``write_csv``, ``folder_to_csv``, ``csv_to_folder``, ``convert``, ``info``,
``split``, ``balance``, ``class_weights``, ``synth``, ``concat``. Models (imported on first
use; the ``train``, ``export``, ``predict`` or ``colab`` extras): ``train``, ``evaluate``,
``predict``, ``pretrained``, ``load_model``, ``export_onnx``, ``export_om``,
``export_tflite``, ``download``. The layout behind them is drawn in README's Development
section.

>>> import fercsv
>>> fercsv.FER2013_LABELS[3]
'happy'
"""
from importlib import import_module

from .core.errors import (BadImageError, BadInputError, BadRowError, DownloadError, ExportError, FercsvError,
                          MissingDependencyError, UnsafePathError)
from .core.version import __version__
from .data.concat import concat
from .data.convert import convert, csv_to_folder, folder_to_csv, read_folder
from .data.dataset import FERDataset, read_csv, write_csv
from .data.info import InfoReport, info
from .data.labels import FER2013_LABELS
from .data.reports import ConvertReport
from .data.split import balance, class_weights, split
from .data.synth import synth, synth_dataset

#: Names that need the upper floor, and the module each one lives in; imported on first use so
#: ``import fercsv`` stays fast and works without TensorFlow.
_LAZY = {
    "train": "fercsv.training.trainer", "TrainConfig": "fercsv.training.trainer",
    "evaluate": "fercsv.training.evaluation", "build_model": "fercsv.training.models",
    "sweep": "fercsv.training.sweeps",
    "load_model": "fercsv.runtime.loading", "pretrained": "fercsv.runtime.loading",
    "predict": "fercsv.serve.predict", "annotate": "fercsv.serve.predict",
    "FacePrediction": "fercsv.serve.predict",
    "predict_paths": "fercsv.serve.batch", "predict_video": "fercsv.serve.video",
    "predict_table": "fercsv.serve.engines",
    "detect_faces": "fercsv.vision.faces", "extract_frames": "fercsv.vision.frames",
    "export_onnx": "fercsv.export", "export_om": "fercsv.export",
    "export_tflite": "fercsv.export",
    "download": "fercsv.data.download", "ferplus_csv": "fercsv.data.ferplus",
    "demo": "fercsv.cli.demo", "launch_app": "fercsv.serve.app:launch",
}

#: Namespaces reached through the package: the floors (``fercsv.data.archives``...), and two a
#: notebook uses by their short names (``fercsv.colab.take_photo()``, ``fercsv.environment.describe()``).
_NAMESPACES = {"colab": "fercsv.serve.colab", "environment": "fercsv.serve.environment",
               **{floor: f"fercsv.{floor}" for floor in ("core", "vision", "data", "runtime", "training",
                                                         "serve", "export", "cli")}}


def __getattr__(name):
    if name in _LAZY:
        module, _, attribute = _LAZY[name].partition(":")
        value = getattr(import_module(module), attribute or name)
    elif name in _NAMESPACES:
        value = import_module(_NAMESPACES[name])
    else:
        raise AttributeError(f"module 'fercsv' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_NAMESPACES))


__all__ = sorted(
    ["BadImageError", "BadInputError", "BadRowError", "ConvertReport", "DownloadError", "ExportError",
     "FER2013_LABELS", "FERDataset", "FercsvError", "InfoReport", "MissingDependencyError", "UnsafePathError",
     "__version__", "balance", "class_weights", "concat", "convert", "csv_to_folder", "folder_to_csv", "info",
     "read_csv", "read_folder", "split", "synth", "synth_dataset", "write_csv", *_LAZY, "colab", "environment"])
