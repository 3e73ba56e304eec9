"""FER-2013-style data without TensorFlow: the label table, the pixel codec, CSV reading and
writing, folders and archives, FER+ votes, info, split and balance, shards, tables, downloads.
"""
from ..core.lazy import submodule as _submodule


def __getattr__(name):  # the floor's modules load on first use
    return _submodule(__name__, name)
