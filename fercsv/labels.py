"""Moved to :mod:`fercsv.data.labels`; this old path is an alias while the move lands."""
import sys

from .data import labels as _moved

sys.modules[__name__] = _moved
