"""The pixel-string codec: uint8 images <-> FER-2013 ``"70 80 82 ..."`` strings, vectorised.

Both directions work on whole batches with numpy table look-ups; there is no
per-pixel or per-row Python loop, which is what makes CSVs fast to read and write.
"""
import threading

import numpy as np

_SEPARATORS = b" \t\r\n,"
_EMPTY, _INVALID = 0xFFFF, 0xFFFE


def _token_table(separator):
    # Each value as 4 bytes: its digits, the separator, then NUL padding (deleted later).
    tokens = np.zeros(256, dtype="<u4")
    for v in range(256):
        tokens[v] = int.from_bytes(f"{v}{separator}".encode().ljust(4, b"\0"), "little")
    return tokens


_TOKEN_U32 = _token_table(" ")
_LAST_U32 = _token_table("")  # a row's last value has no separator after it
_TOKEN_LEN = np.array([len(f"{v} ") for v in range(256)], dtype=np.uint16)
_DECODE_TABLE = None


def _decode_table():
    """Map the 3 bytes before a separator (little-endian key) to the token's value.

    The table is indexed ``[last byte, middle byte, first byte]``. A token is
    the run of digits ending at the separator; a byte other than a digit or a
    separator inside that run makes it non-numeric. Tokens longer than 3
    characters are caught separately by their length.
    """
    global _DECODE_TABLE
    if _DECODE_TABLE is None:
        table = np.full((256, 256, 256), _INVALID, dtype=np.uint16)
        digits = np.arange(48, 58)
        seps = np.frombuffer(_SEPARATORS, np.uint8).astype(np.int64)
        value = np.arange(10)
        table[seps, :, :] = _EMPTY
        for sep in seps:
            table[digits, sep, :] = value[:, None]
            for sep0 in seps:
                table[digits[:, None], digits[None, :], sep0] = value[:, None] + 10 * value[None, :]
        table[digits[:, None, None], digits[None, :, None], digits[None, None, :]] = (
            value[:, None, None] + 10 * value[None, :, None] + 100 * value[None, None, :])
        _DECODE_TABLE = table.reshape(-1)
    return _DECODE_TABLE


def encode(images):
    """Encode a batch of uint8 images as pixel strings.

    Returns ``(buffer, offsets)``: ``buffer`` is ``bytes``, row ``i`` is
    ``buffer[offsets[i]:offsets[i + 1] - 1]`` (each row is followed by one spare space).

    >>> buf, off = encode(np.array([[[0, 7], [128, 255]]], dtype=np.uint8))
    >>> buf[off[0]:off[1] - 1]
    b'0 7 128 255'
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))  # -1 cannot size zero rows
    offsets = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(np.take(_TOKEN_LEN, flat).sum(axis=1, dtype=np.int64), out=offsets[1:])
    padded = bytearray(4 * flat.size)
    np.frombuffer(padded, "<u4").reshape(flat.shape)[...] = np.take(_TOKEN_U32, flat)
    return bytes(padded.translate(None, b"\0")), offsets


def encode_lines(images, *, heads=(b"",), head_of=None, tails=(b"\n",), tail_of=None, out=None):
    """Whole text lines ``heads[head_of[i]] + <pixels of image i> + tails[tail_of[i]]``: what a
    CSV writer appends, made with no per-row Python work.

    ``head_of`` and ``tail_of`` (default: all 0) pick each row's head and tail from the short
    tables ``heads`` and ``tails`` (label cells, Usage names). Returns a ``bytearray``, or with
    ``out`` (a writable buffer of at least :func:`encoded_size` bytes) the number of bytes
    written into it.

    >>> x = np.array([[[1, 20]], [[255, 0]]], dtype=np.uint8)
    >>> bytes(encode_lines(x, heads=[b"3,", b"4,"], head_of=[1, 0], tails=[b",Training\\n"]))
    b'4,1 20,Training\\n3,255 0,Training\\n'
    """
    images = np.asarray(images, dtype=np.uint8)
    n = len(images)
    flat = images.reshape(n, int(np.prod(images.shape[1:])))
    head_of = np.zeros(n, np.intp) if head_of is None else np.asarray(head_of, np.intp)
    tail_of = np.zeros(n, np.intp) if tail_of is None else np.asarray(tail_of, np.intp)
    heads, tails = [bytes(h) for h in heads], [bytes(t) for t in tails]
    if flat.shape[1] < 2 or flat.shape[1] % 2 or any(b"\0" in cell for cell in heads + tails):
        text = _encode_lines_slowly(flat, heads, head_of, tails, tail_of)
        chunks = [text]
    else:
        chunks = _encode_chunks(np.ascontiguousarray(flat), heads, head_of, tails, tail_of)
    if out is None:
        text = bytearray()
        for chunk in chunks:
            text += chunk
        return text
    view, end = memoryview(out).cast("B"), 0
    for chunk in chunks:
        view[end:end + len(chunk)] = chunk
        end += len(chunk)
    return end


#: Rows encoded at once: their padded words (about 9 KB a 48x48 row) stay in the CPU cache.
_CHUNK_ROWS = 64
_scratch = threading.local()


def _encode_chunks(flat, heads, head_of, tails, tail_of):
    """Yield the text of ``_CHUNK_ROWS`` rows at a time.

    Each row is laid out in NUL-padded 8-byte words: its head, one word per two values (from a
    65,536-entry table), its tail. Deleting every NUL at once (``bytearray.translate``, one C
    loop) packs the words into text. The words live in a scratch buffer kept per thread:
    allocating megabytes afresh for every batch costs more in page faults than the encoding.
    """
    pair, last_pair = _pair_tables()
    head_table, tail_table = _word_table(heads), _word_table(tails)
    h, q, t = head_table.shape[1], flat.shape[1] // 2, tail_table.shape[1]
    width = h + q + t
    pairs = flat.view("<u2")  # two values per uint16, the first in the low byte
    need = 8 * min(len(flat), _CHUNK_ROWS) * width
    scratch = getattr(_scratch, "buffer", None)
    if scratch is None or len(scratch) != need:
        scratch = _scratch.buffer = bytearray(need)
    for lo in range(0, len(flat), _CHUNK_ROWS):
        hi = min(lo + _CHUNK_ROWS, len(flat))
        words = np.frombuffer(scratch, "<u8", count=(hi - lo) * width).reshape(hi - lo, width)
        words[:, :h] = head_table[head_of[lo:hi]]
        words[:, h:h + q - 1] = np.take(pair, pairs[lo:hi, :-1])
        words[:, h + q - 1] = np.take(last_pair, pairs[lo:hi, -1])
        words[:, h + q:] = tail_table[tail_of[lo:hi]]
        del words  # a bytearray with a view on it cannot be resized later
        used = 8 * (hi - lo) * width
        packed = scratch if used == need else bytes(memoryview(scratch)[:used])  # a short last chunk
        yield packed.translate(None, b"\0")


def encoded_size(n_rows, n_values, heads, tails):
    """An upper bound of ``len(encode_lines(...))`` for ``n_rows`` rows of ``n_values`` values.

    >>> encoded_size(2, 4, [b"3,"], [b",Training\\n"]) >= 2 * len(b"3,255 255 255 255,Training\\n")
    True
    """
    widest = max(len(c) for c in heads) + max(len(c) for c in tails)
    return n_rows * (4 * n_values + widest + 16)


_PAIRS = None


def _pair_tables():
    """Two consecutive values (the uint16 ``a + 256 * b``) -> ``"a b "`` as a NUL-padded uint64,
    and the same without the trailing space for a row's last two values."""
    global _PAIRS
    if _PAIRS is None:
        lengths = np.array([len(f"{v} ") for v in range(256)], np.uint64)
        shift = (np.uint64(8) * lengths)[None, :]  # indexed [b, a]: a's token comes first
        first = _TOKEN_U32.astype(np.uint64)[None, :]
        _PAIRS = ((first | (_TOKEN_U32.astype(np.uint64)[:, None] << shift)).reshape(-1),
                  (first | (_LAST_U32.astype(np.uint64)[:, None] << shift)).reshape(-1))
    return _PAIRS


def _word_table(cells):
    """Short byte strings as rows of NUL-padded little-endian 8-byte words."""
    width = (max(len(c) for c in cells) + 7) // 8
    raw = b"".join(c.ljust(8 * width, b"\0") for c in cells)
    return np.frombuffer(raw, "<u8").reshape(len(cells), width)


def _encode_lines_slowly(flat, heads, head_of, tails, tail_of):
    # Rows without pixels, or cells holding NUL bytes (which the fast path deletes).
    buf, off = encode(flat)
    return bytearray(b"".join(heads[head_of[i]] + buf[off[i]:off[i + 1] - 1] + tails[tail_of[i]]
                              for i in range(len(flat))))


def encode_rows(images):
    """Encode a batch of images as a list of ``str`` pixel strings.

    >>> encode_rows(np.full((2, 1, 3), 9, dtype=np.uint8))
    ['9 9 9', '9 9 9']
    """
    buf, off = encode(images)
    return [buf[off[i]:off[i + 1] - 1].decode("ascii") for i in range(len(off) - 1)]


def separators(data):
    """Positions of the bytes below ``"0"`` (space, comma, CR, LF, tab, ...) in a uint8 array.

    >>> separators(np.frombuffer(b"12 3,4\\n", np.uint8)).tolist()
    [2, 4, 6]
    """
    # The mask goes into a buffer kept per thread: a fresh megabyte per block costs page faults.
    mask = getattr(_scratch, "mask", None)
    if mask is None or len(mask) < len(data):
        mask = _scratch.mask = np.empty(max(len(data), 1 << 16), np.bool_)
    mask = mask[:len(data)]
    np.less(data, 48, out=mask)
    return np.flatnonzero(mask)


def decode_spans(buf, starts, ends, *, n_pixels=None, separators_from=None):
    """Decode the pixel fields ``buf[starts[i]:ends[i]]`` of a byte buffer.

    ``buf`` is a uint8 array; each field must be followed by a separator byte
    (space, comma, CR or LF) and preceded by at least 4 bytes. Returns
    ``(images, good, problems)``: ``images`` holds the rows listed in ``good``
    (indices into the spans), ``problems`` maps each bad span index to what is
    wrong with it. ``n_pixels`` defaults to the token count of the first row.
    ``separators_from=(positions, origin)`` passes the :func:`separators` of
    ``buf[origin:]`` (``origin >= 3``) when the caller has them already.

    >>> data = np.frombuffer(b"xxx,1 2 3,\\n", np.uint8)
    >>> decode_spans(data, np.array([4]), np.array([9]))[0].tolist()
    [[1, 2, 3]]
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n = len(starts)
    if n == 0:
        return np.zeros((0, n_pixels or 0), np.uint8), np.zeros(0, np.int64), {}
    lo, hi = int(starts[0]) - 1, int(ends[-1]) + 1
    if separators_from is None:
        sep, origin = separators(buf[lo:hi]), lo
    else:
        every, origin = separators_from
        sep = every[np.searchsorted(every, lo - origin):np.searchsorted(every, hi - origin)]
    # Separator positions are relative to ``origin``; the 4-byte word that starts 3 bytes
    # before a separator holds the last three characters of the token it ends.
    words = np.ndarray((len(buf) - origin,), dtype="<u4", buffer=buf, offset=origin - 3, strides=(1,))
    # np.take is markedly faster than fancy indexing for these gathers.
    keys = np.take(words, sep[1:])
    keys &= 0xFFFFFF
    values = np.take(_decode_table(), keys)
    first = np.searchsorted(sep[:-1], starts - origin - 1, "left")
    last = np.searchsorted(sep[:-1], ends - origin - 1, "left")
    counts = last - first
    if n_pixels is None:
        n_pixels = int(counts[0])
    # Fast path: every token valid (empty tokens and bad bytes decode above 255),
    # every row the same length, and each row exactly as long as its digits
    # imply (which rules out tokens of more than 3 characters).
    if n > 1 and n_pixels and (counts == n_pixels).all():
        stride = int(first[1] - first[0])
        if (np.diff(first) == stride).all():
            base = values[first[0]:]
            wide = np.lib.stride_tricks.as_strided(
                base, shape=(n, n_pixels), strides=(stride * base.itemsize, base.itemsize))
            if wide.max() <= 255:
                block = wide.astype(np.uint8)
                # A value never has more digits than the characters it was read from, so the
                # rows hold no longer token (or leading zero) exactly when the digit counts of
                # all values add up to the bytes of all fields: one sum, not one per row.
                digits = block.size + np.count_nonzero(block >= 10) + np.count_nonzero(block >= 100)
                if digits + n * (n_pixels - 1) == int((ends - starts).sum()):
                    return block, np.arange(n), {}
    step = np.diff(sep)
    return _decode_slow(buf, starts, ends, values, step, first, last, n_pixels)


def _decode_slow(buf, starts, ends, values, step, first, last, n_pixels):
    """The careful path: drop empty tokens, find and describe every bad row."""
    n = len(starts)
    if not (step > 1).all():  # empty tokens from repeated separators
        keep = step > 1
        csum = np.zeros(len(keep) + 1, np.int64)
        np.cumsum(keep, out=csum[1:])
        first, last = csum[first], csum[last]
        values, step = values[keep], step[keep]
    counts = last - first
    problems = {}
    bad_tok = np.flatnonzero((values > 255) | (step > 4))
    if len(bad_tok):
        rows = np.searchsorted(first, bad_tok, "right") - 1
        inside = (rows >= 0) & (bad_tok < last[np.maximum(rows, 0)])
        for row in np.unique(rows[inside]):
            field = bytes(buf[starts[row]:ends[row]]).decode("utf-8", "replace")
            problems[int(row)] = _describe_bad_field(field)
    if n_pixels == 0:
        problems = {i: "pixels are missing" for i in range(n)}
    else:
        for row in np.flatnonzero(counts != n_pixels):
            problems.setdefault(int(row), f"has {counts[row]} pixel values, expected {n_pixels}"
                                if counts[row] else "pixels are missing")
    good = np.setdiff1d(np.arange(n), np.fromiter(problems, np.int64, len(problems)))
    idx = first[good, None] + np.arange(n_pixels)
    return values[idx].astype(np.uint8), good, problems


def _describe_bad_field(field):
    for token in field.replace(",", " ").split():
        if not (token.isascii() and token.isdigit()):
            return f"non-integer token {token!r}"
        if int(token) > 255:
            return f"value {token} is out of range 0..255"
        if len(token) > 3:
            return f"value {token!r} has more than 3 digits; write plain integers 0..255"
    return "malformed pixel values"


def decode(strings, *, n_pixels=None):
    """Decode pixel strings into ``(images, good, problems)`` as :func:`decode_spans` does.

    >>> decode(["1 2 3", "4  5 255 ", "7 x 9"])[2]
    {2: "non-integer token 'x'"}
    """
    strings = list(strings)
    missing = {i: "pixels are missing" for i, s in enumerate(strings) if not isinstance(s, str)}
    texts = ["" if i in missing else s for i, s in enumerate(strings)]
    data = ("    " + "\n".join(texts) + "\n").encode("utf-8", "replace")
    lens = np.array([len(t.encode("utf-8", "replace")) for t in texts], dtype=np.int64)
    starts = 4 + np.concatenate(([0], np.cumsum(lens + 1)[:-1])).astype(np.int64)
    ends = starts + lens
    buf = np.frombuffer(data, dtype=np.uint8)
    if n_pixels is None:
        first_ok = next((i for i in range(len(texts)) if i not in missing), None)
        if first_ok is not None:
            n_pixels = len(texts[first_ok].split())
    images, good, problems = decode_spans(buf, starts, ends, n_pixels=n_pixels)
    problems.update(missing)
    keep = np.isin(good, list(missing), invert=True)
    return images[keep], good[keep], dict(sorted(problems.items()))
