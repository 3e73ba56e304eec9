"""Moved to :mod:`fercsv.training.models`; this old path is an alias while the move lands."""
import sys

from .training import models as _moved

sys.modules[__name__] = _moved
