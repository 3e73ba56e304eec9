"""Exports of a trained model: ONNX (verified with onnxruntime), Ascend OM (atc) and TFLite."""
from ..core.lazy import submodule as _submodule
from .formats import *  # noqa: F401,F403 - moving: the names split into per-format modules next
from .formats import (FORMATS, MAX_ABS_DIFF, QUANTIZATIONS, ExportReport, atc_command, export, export_om,
                      export_onnx, export_tflite, tflite_predict, verify_onnx)

__all__ = ["FORMATS", "MAX_ABS_DIFF", "QUANTIZATIONS", "ExportReport", "atc_command", "export", "export_om",
           "export_onnx", "export_tflite", "tflite_predict", "verify_onnx"]

def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
