"""Moved to :mod:`fercsv.serve.app`; this old path is an alias while the move lands."""
import sys

from .serve import app as _moved

sys.modules[__name__] = _moved
