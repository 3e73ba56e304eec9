"""Moved to :mod:`fercsv.runtime.tfutil`; this old path is an alias while the move lands."""
import sys

from .runtime import tfutil as _moved

sys.modules[__name__] = _moved
