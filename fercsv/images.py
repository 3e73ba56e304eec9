"""Moved to :mod:`fercsv.vision.images`; this old path is an alias while the move lands."""
import sys

from .vision import images as _moved

sys.modules[__name__] = _moved
