"""Moved to :mod:`fercsv.serve.video`; this old path is an alias while the move lands."""
import sys

from .serve import video as _moved

sys.modules[__name__] = _moved
