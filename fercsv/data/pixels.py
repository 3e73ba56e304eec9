"""The pixel-string codec: uint8 images <-> FER-2013 ``"70 80 82 ..."`` strings, vectorised.

Both directions work on whole batches with numpy table look-ups; there is no
per-pixel or per-row Python loop, which is what makes CSVs fast to read and write.
"""
import numpy as np

_SEPARATORS = b" \t\r\n,"
_EMPTY, _INVALID = 0xFFFF, 0xFFFE


def _encode_table():
    # Each value as 4 bytes: its digits, a space, then zero padding.
    tokens = np.zeros(256, dtype="<u4")
    for v in range(256):
        tokens[v] = int.from_bytes(f"{v} ".encode().ljust(4, b"\0"), "little")
    return tokens


_TOKEN_U32 = _encode_table()
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

    Returns ``(buffer, offsets)``: row ``i`` is ``buffer[offsets[i]:offsets[i + 1] - 1]``
    (each row is followed by one spare space).

    >>> buf, off = encode(np.array([[[0, 7], [128, 255]]], dtype=np.uint8))
    >>> bytes(buf[off[0]:off[1] - 1])
    b'0 7 128 255'
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))  # -1 cannot size zero rows
    # Fixed-width tokens, then squeeze out the zero padding in one pass.
    padded = _TOKEN_U32[flat].view(np.uint8).reshape(len(flat), 4 * flat.shape[1])
    used = padded != 0
    offsets = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(used, axis=1), out=offsets[1:])
    return padded[used], offsets


def encode_rows(images):
    """Encode a batch of images as a list of ``str`` pixel strings.

    >>> encode_rows(np.full((2, 1, 3), 9, dtype=np.uint8))
    ['9 9 9', '9 9 9']
    """
    buf, off = encode(images)
    data = buf.tobytes()
    return [data[off[i]:off[i + 1] - 1].decode("ascii") for i in range(len(off) - 1)]


def decode_spans(buf, starts, ends, *, n_pixels=None):
    """Decode the pixel fields ``buf[starts[i]:ends[i]]`` of a byte buffer.

    ``buf`` is a uint8 array; each field must be followed by a separator byte
    (space, comma, CR or LF) and preceded by at least 4 bytes. Returns
    ``(images, good, problems)``: ``images`` holds the rows listed in ``good``
    (indices into the spans), ``problems`` maps each bad span index to what is
    wrong with it. ``n_pixels`` defaults to the token count of the first row.

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
    # Separator positions relative to ``lo``; the 4-byte word that starts 3 bytes
    # before a separator holds the last three characters of the token it ends.
    sep = np.flatnonzero(buf[lo:hi] < 48)
    words = np.ndarray((hi - lo,), dtype="<u4", buffer=buf, offset=lo - 3, strides=(1,))
    # np.take is markedly faster than fancy indexing for these gathers.
    keys = np.take(words, sep[1:])
    keys &= 0xFFFFFF
    values = np.take(_decode_table(), keys)
    first = np.searchsorted(sep[:-1], starts - lo - 1, "left")
    last = np.searchsorted(sep[:-1], ends - lo - 1, "left")
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
                chars = np.count_nonzero(block >= 10, axis=1) + np.count_nonzero(block >= 100, axis=1)
                if (chars + 2 * n_pixels - 1 == ends - starts).all():
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
