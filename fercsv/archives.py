"""Moved to :mod:`fercsv.data.archives`; this old path is an alias while the move lands."""
import sys

from .data import archives as _moved

sys.modules[__name__] = _moved
