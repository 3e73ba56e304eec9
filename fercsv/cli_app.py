"""Moved to :mod:`fercsv.cli.app`; this old path is an alias while the move lands."""
import sys

from .cli import app as _moved

sys.modules[__name__] = _moved
