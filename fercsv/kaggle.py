"""Moved to :mod:`fercsv.data.kaggle`; this old path is an alias while the move lands."""
import sys

from .data import kaggle as _moved

sys.modules[__name__] = _moved
