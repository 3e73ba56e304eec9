"""The ``fercsv`` command: a thin argparse layer over the Python API, and the end-to-end demo.

>>> from fercsv.cli import main
>>> import tempfile
>>> main(["synth", tempfile.mkdtemp() + "/faces", "--per-class", "2"])  # doctest: +ELLIPSIS
wrote 42 synthetic faces to ...
0
"""
from ..core.lazy import submodule as _submodule
from .main import build_parser, main

__all__ = ["build_parser", "main"]


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
