"""Moved to :mod:`fercsv.core.atomic`; this old path is an alias while the move lands."""
import sys

from .core import atomic as _moved

sys.modules[__name__] = _moved
