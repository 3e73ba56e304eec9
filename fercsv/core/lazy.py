"""Submodules loaded on first use, so ``fercsv.data.archives.sniff`` works after a bare
``import fercsv`` while ``import fercsv`` itself stays light (no TensorFlow, fast start).
"""
from importlib import import_module
from importlib.util import find_spec


def submodule(package: str, name: str):
    """Import and return ``package.name`` if it is a module, else raise AttributeError as Python does.

    >>> submodule("fercsv.core", "atomic").__name__
    'fercsv.core.atomic'
    >>> submodule("fercsv.core", "nothing")
    Traceback (most recent call last):
    AttributeError: module 'fercsv.core' has no attribute 'nothing'
    """
    if not name.startswith("_") and find_spec(f"{package}.{name}") is not None:
        return import_module(f"{package}.{name}")
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
