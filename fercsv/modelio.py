"""Moved to :mod:`fercsv.runtime.loading`; this old path is an alias while the move lands."""
import sys

from .runtime import loading as _moved

sys.modules[__name__] = _moved
