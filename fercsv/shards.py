"""Moved to :mod:`fercsv.data.shards`; this old path is an alias while the move lands."""
import sys

from .data import shards as _moved

sys.modules[__name__] = _moved
