"""Moved to :mod:`fercsv.vision.tracking`; this old path is an alias while the move lands."""
import sys

from .vision import tracking as _moved

sys.modules[__name__] = _moved
