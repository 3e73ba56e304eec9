"""Moved to :mod:`fercsv.runtime.contract`; this old path is an alias while the move lands."""
import sys

from .runtime import contract as _moved

sys.modules[__name__] = _moved
