"""Training on the upper floor (TensorFlow): model builders, the tf.data input pipeline, the
resumable trainer, evaluation with test-time augmentation, plots and hyper-parameter sweeps.
"""
from ..core.lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
