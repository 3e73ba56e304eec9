"""Pixels from the world: images of any format to 8-bit grey, faces found and cropped,
faces followed across frames, and video frames read in a time window. No TensorFlow.
"""
from ..core.lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
