"""Moved to :mod:`fercsv.data.tables`; this old path is an alias while the move lands."""
import sys

from .data import tables as _moved

sys.modules[__name__] = _moved
