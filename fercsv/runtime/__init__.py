"""The model contract and its runtimes: how uint8 faces become model input, and Keras, ONNX
and TFLite models (files, RUN_DIRs or the shipped pretrained ones) loaded behind one interface.
TensorFlow is imported only when a Keras or TFLite model is loaded.
"""
from ..core.lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
