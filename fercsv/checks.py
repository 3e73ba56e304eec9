"""Moved to :mod:`fercsv.core.checks`; this old path is an alias while the move lands."""
import sys

from .core import checks as _moved

sys.modules[__name__] = _moved
