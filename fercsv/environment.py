"""Moved to :mod:`fercsv.serve.environment`; this old path is an alias while the move lands."""
import sys

from .serve import environment as _moved

sys.modules[__name__] = _moved
