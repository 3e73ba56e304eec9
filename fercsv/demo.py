"""Moved to :mod:`fercsv.cli.demo`; this old path is an alias while the move lands."""
import sys

from .cli import demo as _moved

sys.modules[__name__] = _moved
