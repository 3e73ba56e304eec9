"""Moved to :mod:`fercsv.core.errors`; this old path is an alias while the move lands."""
import sys

from .core import errors as _moved

sys.modules[__name__] = _moved
