"""Moved to :mod:`fercsv.data.dataset`; this old path is an alias while the move lands."""
import sys

from .data import dataset as _moved

sys.modules[__name__] = _moved
