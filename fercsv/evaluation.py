"""Moved to :mod:`fercsv.training.evaluation`; this old path is an alias while the move lands."""
import sys

from .training import evaluation as _moved

sys.modules[__name__] = _moved
