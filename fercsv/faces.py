"""Moved to :mod:`fercsv.vision.faces`; this old path is an alias while the move lands."""
import sys

from .vision import faces as _moved

sys.modules[__name__] = _moved
