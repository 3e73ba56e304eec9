"""Moved to :mod:`fercsv.data.pixels`; this old path is an alias while the move lands."""
import sys

from .data import pixels as _moved

sys.modules[__name__] = _moved
