"""Moved to :mod:`fercsv.data.csvscan`; this old path is an alias while the move lands."""
import sys

from .data import csvscan as _moved

sys.modules[__name__] = _moved
