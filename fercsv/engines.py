"""Moved to :mod:`fercsv.serve.engines`; this old path is an alias while the move lands."""
import sys

from .serve import engines as _moved

sys.modules[__name__] = _moved
