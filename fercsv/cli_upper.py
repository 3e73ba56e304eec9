"""Moved to :mod:`fercsv.cli.upper`; this old path is an alias while the move lands."""
import sys

from .cli import upper as _moved

sys.modules[__name__] = _moved
