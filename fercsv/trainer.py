"""Moved to :mod:`fercsv.training.trainer`; this old path is an alias while the move lands."""
import sys

from .training import trainer as _moved

sys.modules[__name__] = _moved
