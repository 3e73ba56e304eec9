"""Moved to :mod:`fercsv.core.project`; this old path is an alias while the move lands."""
import sys

from .core import project as _moved

sys.modules[__name__] = _moved
