"""Moved to :mod:`fercsv.data.download`; this old path is an alias while the move lands."""
import sys

from .data import download as _moved

sys.modules[__name__] = _moved
