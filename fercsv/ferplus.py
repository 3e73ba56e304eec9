"""Moved to :mod:`fercsv.data.ferplus`; this old path is an alias while the move lands."""
import sys

from .data import ferplus as _moved

sys.modules[__name__] = _moved
