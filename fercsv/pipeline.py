"""Moved to :mod:`fercsv.training.pipeline`; this old path is an alias while the move lands."""
import sys

from .training import pipeline as _moved

sys.modules[__name__] = _moved
