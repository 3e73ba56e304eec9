"""Moved to :mod:`fercsv.cli.sweep`; this old path is an alias while the move lands."""
import sys

from .cli import sweep as _moved

sys.modules[__name__] = _moved
