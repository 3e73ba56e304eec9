"""Using a trained model: predictions on photos, arrays and face batches, batch jobs and face
tables (in-process or on Ray), video timelines, the browser app and the Colab webcam helpers.
"""
from ..core.lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
