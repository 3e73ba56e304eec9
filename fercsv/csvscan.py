"""Locate the lines and fields of a FER-style CSV held in memory, with numpy.

This is the fast path of :func:`fercsv.read_csv` for the common, unquoted
files; anything irregular (quotes, ragged rows) is left to pandas.
"""
import numpy as np

from .errors import BadRowError

_CHUNK = 1 << 22


def _positions(buf, byte, start):
    parts = []
    for lo in range(start, len(buf), _CHUNK):
        hit = np.flatnonzero(buf[lo:lo + _CHUNK] == byte)
        hit += lo
        parts.append(hit)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def scan_fields(buf, *, n_columns, body_start, path="CSV"):
    """Return ``(starts, ends)`` arrays of shape (rows, n_columns) for the data lines.

    ``buf`` is the whole file as a uint8 array ending in a newline, ``body_start``
    the offset of the first data line. Blank lines are skipped. Raises
    :class:`BadRowError` for a line with the wrong number of fields; returns
    ``None`` when the file needs a full CSV parser (quoted fields).

    >>> b = np.frombuffer(b"a,b\\n1,2 3\\n", np.uint8)
    >>> s, e = scan_fields(b, n_columns=2, body_start=4)
    >>> s.tolist(), e.tolist()
    ([[4, 6]], [[5, 9]])
    """
    newlines = _positions(buf, 10, body_start)
    line_start = np.concatenate(([body_start], newlines[:-1] + 1))
    line_end = newlines.copy()
    line_end -= (buf[np.maximum(line_end - 1, 0)] == 13) & (line_end > line_start)
    keep = line_end > line_start
    line_numbers = np.flatnonzero(keep)
    line_start, line_end = line_start[keep], line_end[keep]
    commas = _positions(buf, 44, body_start)
    per_line = np.searchsorted(commas, line_end) - np.searchsorted(commas, line_start)
    wrong = np.flatnonzero(per_line != n_columns - 1)
    if len(wrong):
        row = int(wrong[0])
        header_lines = int(np.count_nonzero(buf[:body_start] == 10))
        line = header_lines + int(line_numbers[row]) + 1
        raise BadRowError(
            f"{path}: line {line} has {per_line[row] + 1} fields, expected {n_columns}; "
            "fix or remove that line", path=path, line=line)
    inner = commas.reshape(len(line_start), n_columns - 1) if n_columns > 1 else \
        np.zeros((len(line_start), 0), np.int64)
    starts = np.column_stack([line_start, inner + 1])
    ends = np.column_stack([inner, line_end])
    rows_line = (line_numbers + int(np.count_nonzero(buf[:body_start] == 10)) + 1)
    return starts, ends, rows_line


def field_strings(buf, starts, ends):
    """Decode one column of short fields into an object array of ``str``, vectorised.

    >>> b = np.frombuffer(b"ab,Training,x", np.uint8)
    >>> field_strings(b, np.array([0, 3]), np.array([2, 11])).tolist()
    ['ab', 'Training']
    """
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=object)
    lens = ends - starts
    width = max(1, int(lens.max()))
    cols = np.arange(width)
    idx = np.minimum(starts[:, None] + cols, len(buf) - 1)
    cells = np.where(cols < lens[:, None], buf[idx], 0).astype(np.uint8)
    packed = np.ascontiguousarray(cells).view(f"S{width}").ravel()
    uniq, inverse = np.unique(packed, return_inverse=True)
    text = np.array([u.decode("utf-8", "replace").strip() for u in uniq], dtype=object)
    return text[inverse.ravel()]
