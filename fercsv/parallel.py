"""Moved to :mod:`fercsv.core.parallel`; this old path is an alias while the move lands."""
import sys

from .core import parallel as _moved

sys.modules[__name__] = _moved
