"""fercsv's version, read once from the installed package's metadata.

Its own module, so that no module has to import the package root for it.

>>> from fercsv.core.version import __version__
>>> __version__.count(".") >= 1 or __version__ == "0+unknown"
True
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fercsv")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
