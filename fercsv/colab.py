"""Moved to :mod:`fercsv.serve.colab`; this old path is an alias while the move lands."""
import sys

from .serve import colab as _moved

sys.modules[__name__] = _moved
