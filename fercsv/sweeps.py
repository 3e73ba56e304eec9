"""Moved to :mod:`fercsv.training.sweeps`; this old path is an alias while the move lands."""
import sys

from .training import sweeps as _moved

sys.modules[__name__] = _moved
