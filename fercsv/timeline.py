"""Moved to :mod:`fercsv.serve.timeline`; this old path is an alias while the move lands."""
import sys

from .serve import timeline as _moved

sys.modules[__name__] = _moved
