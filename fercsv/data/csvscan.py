"""Read a FER-style CSV in blocks and split each block into fields and pixels, with numpy.

This is the fast path of :func:`fercsv.read_csv` for the usual unquoted files:
the file is read block by block while worker threads parse earlier blocks, so
disk and CPU overlap and memory stays bounded. Quoted files go to pandas.
"""
from dataclasses import dataclass

import numpy as np

from . import pixels
from ..core.errors import BadRowError

BLOCK_BYTES = 1 << 20  # its temporaries stay below numpy's 4 MB huge-page threshold
PAD = b"\n\n\n\n"  # the pixel decoder looks up to 4 bytes before a field


class NeedsFullParser(Exception):
    """The block holds quotes: hand the file to a real CSV parser."""


def iter_blocks(fh, *, block_bytes=BLOCK_BYTES, ring=0):
    """Yield blocks of whole lines read from ``fh``, each padded in front.

    With ``ring=R`` the blocks are memoryviews into R buffers used in turn (block ``k`` is
    overwritten by block ``k + R``): reading then allocates and copies nothing more.

    >>> import io
    >>> list(iter_blocks(io.BytesIO(b"a\\nb\\nc"), block_bytes=2))
    [b'\\n\\n\\n\\na\\n', b'\\n\\n\\n\\nb\\n', b'\\n\\n\\n\\nc\\n']
    >>> [bytes(b) for b in iter_blocks(io.BytesIO(b"a\\nb\\nc"), block_bytes=2, ring=2)]
    [b'\\n\\n\\n\\na\\n', b'\\n\\n\\n\\nb\\n', b'\\n\\n\\n\\nc\\n']
    """
    if ring:
        yield from _ring_blocks(fh, block_bytes, ring)
        return
    carry = b""
    while True:
        chunk = fh.read(block_bytes)
        if not chunk:
            break
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            carry += chunk
            continue
        yield b"".join((PAD, carry, memoryview(chunk)[:cut]))
        carry = chunk[cut:]
    if carry:
        yield PAD + carry + b"\n"


def _ring_blocks(fh, block_bytes, ring):
    buffers, carry, k = [None] * ring, b"", 0
    while True:
        head = len(PAD) + len(carry)
        buf = buffers[k % ring]
        if buf is None or len(buf) < head + block_bytes:  # a line longer than a block grows it
            buf = buffers[k % ring] = bytearray(head + block_bytes)
        buf[:head] = PAD + carry
        end = head + _read_into(fh, memoryview(buf)[head:head + block_bytes])
        if end == head:
            break
        cut = buf.rfind(b"\n", head, end) + 1
        if cut == 0:
            carry = bytes(buf[len(PAD):end])
            continue
        yield memoryview(buf)[:cut]
        carry = bytes(buf[cut:end])
        k += 1
    if carry:
        yield PAD + carry + b"\n"


def _read_into(fh, view):
    """Fill ``view`` from ``fh`` (reads may come short, e.g. from gzip); returns the bytes read."""
    done = 0
    while done < len(view):
        got = fh.readinto(view[done:])
        if not got:
            break
        done += got
    return done


@dataclass
class Block:
    """Parsed rows of one block: decoded images of the good rows, problems, other fields.

    ``lines`` are 0-based line indexes within the block (blank lines count);
    ``n_lines`` is how many lines the block holds.
    """

    images: np.ndarray
    good: np.ndarray
    problems: dict
    columns: dict
    lines: np.ndarray
    n_lines: int


def parse_block(block, *, n_columns, pix, n_pixels, path="CSV", first_line=None):
    """Split a block (from :func:`iter_blocks`) into fields and decode its pixel column.

    Raises :class:`BadRowError` for a line with the wrong number of fields
    (``first_line``, the file line number of the block's first line, goes
    into its message; it is counted when needed) and :class:`NeedsFullParser`
    when the block holds quotes.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    base = len(PAD)
    # One scan finds every separator, from the last pad byte on (a field may start right after
    # it); newlines and commas are picked out of those.
    origin = base - 1
    seps = pixels.separators(buf[origin:])
    kind = np.take(buf[origin:], seps)
    # Most separators are spaces; the few others (commas, newlines, quotes) are sorted out of
    # a short list instead of by three passes over all of them.
    other = np.flatnonzero(kind != 32)
    other_kind, other = kind[other], seps[other]
    if (other_kind == 34).any():  # a quote
        raise NeedsFullParser()
    newlines = other[other_kind == 10][1:] + origin  # [1:]: the pad byte itself
    line_start = np.concatenate(([base], newlines[:-1] + 1))
    line_end = newlines - ((buf[newlines - 1] == 13) & (newlines > line_start))
    n_lines = len(line_start)
    line_no = np.arange(n_lines)
    keep = line_end > line_start  # blank lines are skipped, as pandas does
    line_start, line_end, line_no = line_start[keep], line_end[keep], line_no[keep]
    commas = other[other_kind == 44] + origin
    per_line = np.searchsorted(commas, line_end) - np.searchsorted(commas, line_start)
    wrong = np.flatnonzero(per_line != n_columns - 1)
    if len(wrong):
        row = int(wrong[0])
        line = int(line_no[row]) + (first_line() if callable(first_line) else (first_line or 0))
        raise BadRowError(
            f"{path}: line {line} has {per_line[row] + 1} fields, expected {n_columns}; "
            "fix or remove that line", path=path, line=line)
    inner = commas.reshape(len(line_start), n_columns - 1)
    starts = np.column_stack([line_start, inner + 1])
    ends = np.column_stack([inner, line_end])
    images, good, problems = pixels.decode_spans(buf, starts[:, pix], ends[:, pix], n_pixels=n_pixels,
                                                 separators_from=(seps, origin))
    columns = {i: field_strings(buf, starts[:, i], ends[:, i]) for i in range(n_columns) if i != pix}
    return Block(images, good, problems, columns, line_no, n_lines)


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
