"""Moved to :mod:`fercsv.training.plots`; this old path is an alias while the move lands."""
import sys

from .training import plots as _moved

sys.modules[__name__] = _moved
