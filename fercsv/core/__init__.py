"""The foundation every other floor stands on: errors, atomic writes, argument checks,
ordered parallel maps, the version and the project's addresses. Imports nothing of fercsv.
"""
from .lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
