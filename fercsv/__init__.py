"""fercsv: facial-expression recognition kit for FER-2013-style pixel CSVs.

Ground floor (no TensorFlow): ``read_csv``, ``write_csv``, ``folder_to_csv``,
``csv_to_folder``, ``convert``, ``info``, ``split``, ``balance``,
``class_weights``, ``synth``. Upper floor (imported on first use, needs the
``train``/``export``/``colab`` extras): ``train``, ``evaluate``, ``predict``,
``export_onnx``, ``export_om``, ``export_tflite``, ``download``.

>>> import fercsv
>>> fercsv.FER2013_LABELS[3]
'happy'
"""
from importlib import import_module
from importlib.util import find_spec
from importlib.metadata import PackageNotFoundError, version

from .concat import concat
from .convert import ConvertReport, convert, csv_to_folder, folder_to_csv, read_folder
from .dataset import FERDataset, read_csv, write_csv
from .errors import (BadImageError, BadInputError, BadRowError, DownloadError, ExportError,
                     FercsvError, MissingDependencyError, UnsafePathError)
from .info import InfoReport, info
from .labels import FER2013_LABELS
from .split import balance, class_weights, split
from .synth import synth, synth_dataset

try:
    __version__ = version("fercsv")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

_LAZY = {
    "train": "fercsv.trainer", "evaluate": "fercsv.evaluation", "predict": "fercsv.prediction",
    "export_onnx": "fercsv.export", "export_om": "fercsv.export", "export_tflite": "fercsv.export",
    "download": "fercsv.fetch", "load_model": "fercsv.modelio", "build_model": "fercsv.models",
    "predict_video": "fercsv.video",
    "predict_paths": "fercsv.prediction",
    "sweep": "fercsv.sweeps",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
        return import_module(f"{__name__}.{name}")  # fercsv.colab, fercsv.faces...: loaded on first use
    raise AttributeError(f"module 'fercsv' has no attribute {name!r}")


__all__ = sorted(
    ["BadImageError", "BadInputError", "BadRowError", "ConvertReport", "DownloadError",
     "ExportError", "FER2013_LABELS", "FERDataset", "FercsvError", "InfoReport",
     "MissingDependencyError", "UnsafePathError", "balance", "class_weights", "concat", "convert",
     "csv_to_folder", "folder_to_csv", "info", "read_csv", "read_folder", "split", "synth",
     "synth_dataset", "write_csv", *_LAZY])
