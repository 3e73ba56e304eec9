"""FERDataset and the FER-2013 CSV reader and writer (``emotion,pixels,Usage``).

Reading is vectorised (numpy scan of the file, table-driven pixel decoding in
threads); writing encodes whole batches at once and replaces the file atomically.
"""
import csv
import gzip
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import labels as L
from . import pixels
from ..core.atomic import atomic_open
from . import csvscan
from .csvscan import NeedsFullParser, iter_blocks, parse_block
from ..core.errors import BadInputError, BadRowError
from ..vision.images import is_image_name
from ..core.parallel import default_workers, ordered_map

_LABEL_COLUMNS = ("emotion", "label", "labels", "expression", "class", "emotion_label")
_PIXEL_COLUMNS = ("pixels", "pixel", "image")
_USAGE_COLUMNS = ("usage", "split", "set")
_ROWS_PER_TASK = 256


@dataclass
class FERDataset:
    """Face images with their emotion codes and FER-2013 Usage.

    ``images`` is (N, H, W) uint8; ``labels`` (N,) int64 codes into
    ``label_names`` (-1 for unlabeled rows); ``usage`` (N,) str; ``extra`` holds
    any further CSV columns (e.g. a subject id) as arrays; ``problems`` lists
    ``(line, reason)`` for rows skipped while reading.

    >>> ds = FERDataset.from_arrays(np.zeros((2, 48, 48), np.uint8), [3, 4])
    >>> ds.label_names[3], ds.usage.tolist(), ds.arrays()[0].shape
    ('happy', ['Training', 'Training'], (2, 48, 48, 1))
    """

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    label_names: list
    extra: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    source: str = None
    columns: list = None

    @classmethod
    def from_arrays(cls, images, labels=None, usage=None, *, label_names=None, extra=None):
        """Build a dataset from arrays; labels may be codes or names."""
        images = np.asarray(images)
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim != 3:
            raise BadInputError(f"images must have shape (N, H, W), got {images.shape}")
        if images.dtype != np.uint8:
            if images.dtype.kind == "f" and images.size and images.max() <= 1.0:
                images = images * 255.0
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        n = len(images)
        labels = np.full(n, -1) if labels is None else np.asarray(labels)
        if labels.dtype.kind in "OUS":
            label_names = label_names or L.label_table(set(map(str, labels)))
            canon = [L.canonical_label(v) for v in labels]
            labels = np.array([label_names.index(c) if c != L.UNLABELED else -1 for c in canon])
        label_names = list(label_names or L.FER2013_LABELS)
        usage = np.full(n, "Training", dtype=object) if usage is None else \
            np.array([L.canonical_usage(u) for u in usage], dtype=object)
        return cls(images, labels.astype(np.int64), usage, label_names, dict(extra or {}))

    def __len__(self):
        return len(self.images)

    @property
    def image_shape(self):
        """(H, W) of every image."""
        return tuple(self.images.shape[1:3])

    def subset(self, rows):
        """A new dataset with the given rows (boolean mask, indices, or a Usage name)."""
        if isinstance(rows, str):
            rows = self.usage == L.canonical_usage(rows)
        rows = np.asarray(rows)
        return FERDataset(self.images[rows], self.labels[rows], self.usage[rows],
                          list(self.label_names),
                          {k: np.asarray(v)[rows] for k, v in self.extra.items()},
                          list(self.problems), self.source, self.columns)

    def arrays(self, usage=None):
        """``(x, y)`` for Keras: x (N, H, W, 1) float32 in [0, 1], y (N,) int64.

        ``usage`` picks one split (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``).
        """
        ds = self.subset(usage) if usage is not None else self
        x = ds.images.astype(np.float32)[..., None]
        x /= 255.0
        return x, ds.labels.copy()

    def targets(self):
        """Soft targets (N, classes) float32 from ``p_<label>`` columns (FER+ vote fractions), or None.

        Rows are renormalised to sum to 1; a CSV without those columns has none.

        >>> ds = FERDataset.from_arrays(np.zeros((1, 2, 2), np.uint8), [0], label_names=["angry", "sad"],
        ...                             extra={"p_angry": ["0.75"], "p_sad": ["0.25"]})
        >>> ds.targets().tolist()
        [[0.75, 0.25]]
        """

        keys = [L.TARGET_PREFIX + name for name in self.label_names]
        if not all(k in self.extra for k in keys):
            return None
        try:
            values = np.stack([np.asarray(self.extra[k], dtype=np.float32) for k in keys], axis=1)
        except ValueError as exc:
            raise BadInputError(f"{self.source}: soft-target columns p_<label> must hold numbers "
                                f"({exc}); rewrite them with fercsv convert --ferplus") from None
        sums = values.sum(axis=1, keepdims=True)
        if (values < 0).any() or (sums <= 0).any():
            raise BadInputError(f"{self.source}: soft-target columns p_<label> need non-negative "
                                "values with a positive sum on every row")
        return (values / sums).astype(np.float32)

    def counts(self):
        """pandas DataFrame of row counts: one row per label name, one column per Usage."""
        import pandas as pd

        names = [self.name_of(c) for c in self.labels]
        table = pd.crosstab(pd.Series(names, name="label"), pd.Series(self.usage, name="Usage"))
        order = [n for n in list(self.label_names) + [L.UNLABELED] if n in table.index]
        cols = [u for u in L.USAGES if u in table.columns]
        return table.loc[order, cols]

    def name_of(self, code):
        """Label name of a code (``unlabeled`` for -1)."""
        return L.UNLABELED if code < 0 else self.label_names[code]


def _resolve_columns(names, *, label_column, pixels_column, usage_column, path):
    lowered = [n.strip().lower() for n in names]

    def find(explicit, options):
        if explicit is not None:
            key = explicit.strip().lower()
            if key not in lowered:
                raise BadInputError(f"{path}: no column {explicit!r} (columns: {', '.join(names)})")
            return lowered.index(key)
        return next((lowered.index(o) for o in options if o in lowered), None)

    pix = find(pixels_column, _PIXEL_COLUMNS)
    if pix is None:
        raise BadInputError(
            f"{path}: missing column 'pixels' (columns: {', '.join(names) or 'none'}); "
            "a FER-2013 CSV has the header emotion,pixels,Usage")
    return pix, find(label_column, _LABEL_COLUMNS), find(usage_column, _USAGE_COLUMNS)


def _open_binary(path):
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file; check the path")
    from . import archives

    kind = archives.sniff(path)
    if kind in ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz"):
        names = archives.members(path)
        csvs = [m for m in names if m.lower().endswith(".csv")]
        if len(csvs) == 1 and not any(map(is_image_name, names)):
            return archives.open_member(path, csvs[0])  # Kaggle's CSV forms come zipped: read in place
    if kind in ("bzip2", "xz"):
        raise BadInputError(f"{path} is {kind}-compressed; read_csv reads plain or gzip CSVs: decompress "
                            "it first or compress it with gzip")
    if kind not in ("gzip", "other"):
        raise BadInputError(archives.describe_non_csv(path, kind))
    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        fh = gzip.open(path, "rb")
    else:
        fh.seek(0)
    return fh


def _read_header(fh, path):
    try:
        first = fh.readline()
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: damaged gzip file ({exc}); download or compress it again") from None
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    header = next(csv.reader([first.decode("utf-8", "replace").rstrip("\r\n")]), [])
    return [h.strip() for h in header]


def read_csv(path, *, shape=None, on_bad_rows="raise", label_column=None, pixels_column=None,
             usage_column=None, workers=None):
    """Read a FER-2013-style CSV (plain or .gz) into a :class:`FERDataset`.

    Accepts ``fer2013.csv``, Kaggle's ``icml_face_data.csv`` (spaces in the
    header), ``train.csv``/``test.csv`` (no Usage / no emotion column) and label
    columns holding names; ``path`` may also be a URL or Google Drive link
    (downloaded once into the cache). Rows without Usage are Training. Each row must hold
    H*W integers 0..255; a bad row raises :class:`BadRowError` naming its line,
    or with ``on_bad_rows="skip"`` is dropped and listed in ``dataset.problems``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("emotion,pixels,Usage\\n3,0 1 2 3,PublicTest\\n")
    >>> ds = read_csv(p)
    >>> ds.images.shape, ds.label_names[ds.labels[0]], ds.usage[0]
    ((1, 2, 2), 'happy', 'PublicTest')
    """
    if on_bad_rows not in ("raise", "skip"):
        raise BadInputError(f"on_bad_rows must be 'raise' or 'skip', not {on_bad_rows!r}")
    path = str(path)
    if path.startswith(("http://", "https://")):
        from .download import download

        path = str(download(path, quiet=True))
    with _open_binary(path) as fh:
        names = _read_header(fh, path)
        pix, lab, use = _resolve_columns(names, label_column=label_column,
                                         pixels_column=pixels_column, usage_column=usage_column,
                                         path=path)
        try:
            parsed = _read_blocks(fh, names, pix, path, workers)
        except NeedsFullParser:
            parsed = None
        except (OSError, EOFError) as exc:
            raise BadInputError(f"{path}: cannot read ({exc}); check or download the file again") from None
    if parsed is None:
        with _open_binary(path) as fh:
            parsed = _read_with_pandas(path, fh.read(), names, pix)
    columns, images, good, problems, lines = parsed
    if problems and on_bad_rows == "raise":
        row, reason = next(iter(sorted(problems.items())))
        raise BadRowError(
            f"{path}: line {lines[row]}: {reason}; fix or remove the row, or skip bad rows "
            "(on_bad_rows='skip', CLI --skip-bad-rows)", path=path, line=int(lines[row]))
    n_pixels = images.shape[1] if images.ndim == 2 else 0
    h, w = _image_shape(n_pixels, shape, path)
    images = images.reshape(len(images), h, w)
    label_codes, label_names = _parse_labels(columns.get(lab), good, path, lines)
    usage = _parse_usage(columns.get(use), good, path, lines)
    extra = {names[i]: columns[i][good] for i in columns if i not in (lab, use)}
    label_names = _with_target_labels(label_names, extra)
    skipped = [(int(lines[r]), reason) for r, reason in sorted(problems.items())]
    return FERDataset(images, label_codes, usage, label_names, extra, skipped, path, names)


def _with_target_labels(label_names, extra):
    """The label table widened to every ``p_<label>`` column of known code.

    A part of a FER+ CSV may hold no contempt row yet carry contempt's vote share in ``p_contempt``;
    a table taken from the codes present alone would drop that share from the targets.

    >>> _with_target_labels(list(L.FER2013_LABELS), {"p_happy": [], "p_contempt": []})[-1]
    'contempt'
    """
    codes = [L.known_code(k[len(L.TARGET_PREFIX):]) for k in extra if k.startswith(L.TARGET_PREFIX)]
    if not codes or None in codes or not L.is_standard(label_names) or max(codes) < len(label_names):
        return label_names
    return L.code_names(max(codes) + 1)


def _guess_pixel_count(fh, pix):
    """Most common token count of the first few data lines (they fix the row length)."""
    pos = fh.tell()
    counts = []
    for _ in range(5):
        line = fh.readline()
        if not line:
            break
        fields = line.split(b",")
        if len(fields) > pix and fields[pix].strip():
            counts.append(len(fields[pix].split()))
    fh.seek(pos)
    return max(set(counts), key=counts.count) if counts else None


def _read_blocks(fh, names, pix, path, workers):
    n_pixels = _guess_pixel_count(fh, pix)
    workers = workers or default_workers()
    job = _ParseJob(path, len(names), pix, n_pixels)
    starts = []  # the size of each block, to count lines only if a block fails

    def blocks():
        # Blocks are read into reused buffers, one per block in flight (ordered_map holds at
        # most workers * ahead), so reading allocates nothing; parse_block copies what it keeps.
        for block in iter_blocks(fh, ring=workers * _AHEAD):
            starts.append(len(block))
            yield len(starts) - 1, block

    def work(item):
        # Worker threads: numpy releases the GIL for the heavy steps. (Processes reading their
        # own byte ranges were measured too: 20 % slower on 2 cores, for the copies they add.)
        index, block = item
        return parse_block(block, n_columns=job.n_columns, pix=pix, n_pixels=n_pixels, path=path,
                           first_line=lambda: 2 + _lines_before(fh, index, starts))

    results = ordered_map(work, blocks(), workers=workers, ahead=_AHEAD)
    return _gather(results, job, _size_hint(path))


_AHEAD = 2


@dataclass(frozen=True)
class _ParseJob:
    """The shape of the CSV being parsed."""

    path: str
    n_columns: int
    pix: int
    n_pixels: int


def _size_hint(path):
    """Roughly how many bytes the CSV holds: its size, or for gzip the size its trailer records."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if fh.read(2) == b"\x1f\x8b" and size > 18:
                fh.seek(-4, os.SEEK_END)
                size = max(size, int.from_bytes(fh.read(4), "little"))  # modulo 4 GiB: a hint only
        return size
    except OSError:
        return None


def _gather(results, job, size_hint):
    """Put the parsed blocks together in file order: one image array, filled in place."""
    images, goods, lines, problems = _Rows(size_hint), [], [], {}
    columns = {i: [] for i in range(job.n_columns) if i != job.pix}
    offset, line = 0, 2
    for block in results:
        images.add(block.images, block.n_lines)
        goods.append(block.good + offset)
        lines.append(block.lines + line)
        problems.update({offset + r: why for r, why in block.problems.items()})
        for i in columns:
            columns[i].append(block.columns[i])
        offset += len(block.lines)
        line += block.n_lines
    if not goods:
        return ({i: np.zeros(0, object) for i in columns}, np.zeros((0, job.n_pixels or 0), np.uint8),
                np.zeros(0, np.int64), {}, np.zeros(0, np.int64))
    return ({i: np.concatenate(v) for i, v in columns.items()}, images.array(),
            np.concatenate(goods), problems, np.concatenate(lines))


class _Rows:
    """Image rows appended block by block into one array sized from the file's bytes per row,
    so the peak memory stays near one copy of the images (a list and a concatenate need two)."""

    def __init__(self, size_hint):
        self.size_hint, self.buffer, self.n, self.seen = size_hint, None, 0, 0

    def add(self, rows, lines):
        self.seen += lines
        if self.buffer is None:
            self.buffer = np.empty((self._guess(len(rows), lines), rows.shape[1]), np.uint8)
        elif rows.shape[1] != self.buffer.shape[1]:
            raise BadInputError(f"rows hold {rows.shape[1]} pixels after rows of {self.buffer.shape[1]}; "
                                "every row needs the same number of pixels")
        if self.n + len(rows) > len(self.buffer):  # the guess fell short: grow by a quarter
            grown = np.empty((max(len(self.buffer) * 5 // 4, self.n + len(rows)), self.buffer.shape[1]), np.uint8)
            grown[:self.n] = self.buffer[:self.n]
            self.buffer = grown
        self.buffer[self.n:self.n + len(rows)] = rows
        self.n += len(rows)

    def _guess(self, rows, lines):
        if not self.size_hint or not lines:
            return max(rows, 1024)
        return max(rows, int(self.size_hint / csvscan.BLOCK_BYTES * lines * 1.05) + 16)

    def array(self):
        if self.buffer is None:
            return np.zeros((0, 0), np.uint8)
        if self.n < 0.9 * len(self.buffer):  # a poor guess: give the spare memory back
            return self.buffer[:self.n].copy()
        return self.buffer[:self.n]


def _lines_before(fh, index, sizes):
    """Data lines before block ``index`` (re-reads the file; used only for error messages)."""
    name = getattr(fh, "name", None)
    if not isinstance(name, str) or index == 0:
        return 0
    with _open_binary(name) as again:
        again.readline()
        total = 0
        for i, block in enumerate(iter_blocks(again)):
            if i == index:
                break
            total += block.count(b"\n") - 4
        return total


def _read_with_pandas(path, data, names, pix):
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        raise BadRowError(f"{path}: {exc}; fix the CSV (each row needs {len(names)} fields)",
                          path=path) from None
    frame.columns = [c.strip() for c in frame.columns]
    columns = {i: frame.iloc[:, i].to_numpy(dtype=object) for i in range(len(names)) if i != pix}
    strings = [s if s.strip() else None for s in frame.iloc[:, pix]]
    images, good, problems = pixels.decode(strings)
    lines = np.arange(len(frame)) + 2
    return columns, images, good, problems, lines


def _image_shape(n_pixels, shape, path):
    if n_pixels == 0 and shape is None:
        return 48, 48  # a header-only CSV: an empty dataset of FER-2013-sized images
    if shape is not None:
        h, w = (shape, shape) if isinstance(shape, int) else shape
        if h * w != n_pixels:
            raise BadInputError(f"{path}: rows hold {n_pixels} pixels, which is not {h}x{w}; "
                                "pass the right shape")
        return h, w
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise BadInputError(f"{path}: rows hold {n_pixels} pixels, not a square image; "
                            "pass shape=(H, W) (CLI --shape HxW)")
    return side, side


def _parse_labels(values, good, path, lines):
    if values is None:
        return np.full(len(good), -1, np.int64), list(L.FER2013_LABELS)
    raw = values[good]
    uniq, inverse = np.unique(np.asarray(raw, dtype=str), return_inverse=True)
    uniq = [u.strip() for u in uniq]
    numeric = all(u.isdigit() or u == "" for u in uniq)
    if numeric:
        top = max([int(u) for u in uniq if u] + [0])
        table = list(L.EXTENDED_LABELS[: max(7, top + 1)])
        table += [f"class{k}" for k in range(len(table), top + 1)]
        codes = [int(u) if u else -1 for u in uniq]
    else:
        names = [L.canonical_label(L.EXTENDED_LABELS[int(u)] if u.isdigit() and int(u) < 8 else u)
                 for u in uniq]
        table = L.label_table([n for n in names if n])
        codes = [table.index(n) if n and n != L.UNLABELED else -1 for n in names]
    return np.asarray(codes, np.int64)[inverse.ravel()], table


def _parse_usage(values, good, path, lines):
    if values is None:
        return np.full(len(good), "Training", dtype=object)
    raw = values[good]
    uniq, inverse = np.unique(np.asarray(raw, dtype=str), return_inverse=True)
    mapped = []
    for u in uniq:
        try:
            mapped.append(L.canonical_usage(u) if u.strip() else "Training")
        except BadInputError:
            row = good[int(np.flatnonzero(np.asarray(raw, dtype=str) == u)[0])]
            raise BadRowError(f"{path}: line {lines[row]}: unknown Usage {str(u)!r}; use Training, "
                              "PublicTest or PrivateTest", path=path, line=int(lines[row])) from None
    return np.asarray(mapped, dtype=object)[inverse.ravel()]


def _cell(text):
    text = str(text)
    if any(c in text for c in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_header(dataset):
    """The header columns :func:`write_csv` writes for ``dataset``."""
    cols = ["pixels", "Usage"]
    if (dataset.labels >= 0).any() or len(dataset) == 0:
        cols.insert(0, "emotion")
    return cols + list(dataset.extra)


def label_cells(label_names, *, label_format="auto"):
    """CSV cell text for each code: the code itself when the table is standard, else the name."""
    if label_format not in ("auto", "code", "name"):
        raise BadInputError(f"label_format must be auto, code or name, not {label_format!r}")
    as_code = label_format == "code" or (label_format == "auto" and L.is_standard(label_names))
    return [str(i) if as_code else _cell(n) for i, n in enumerate(label_names)]


class CSVWriter:
    """Stream batches of rows into a FER-2013 CSV, atomically (see :func:`write_csv`)."""

    def __init__(self, path, *, label_names, with_labels=True, extra_columns=(), label_format="auto"):
        self.path = Path(path)
        self._cells = label_cells(label_names, label_format=label_format)
        self._with_labels = with_labels
        self._extra = list(extra_columns)
        self._ctx = None
        self.rows = 0

    def __enter__(self):
        self._ctx = atomic_open(self.path)
        self._fh = self._ctx.__enter__()
        cols = (["emotion"] if self._with_labels else []) + ["pixels", "Usage"] + self._extra
        self._fh.write((",".join(_cell(c) for c in cols) + "\n").encode())
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)

    def line_tables(self, usage_names=L.USAGES):
        """``(heads, tails)``: the byte strings a row starts with (per label code; the last one
        for code -1) and ends with (per Usage name), for :func:`pixels.encode_lines`.

        Extra columns are per row, so a writer with extra columns has no fixed tails.
        """
        heads = [(c + ",").encode() for c in self._cells] + [b","] if self._with_labels else [b""]
        tails = [("," + u + "\n").encode() for u in usage_names]
        return heads, tails

    def write(self, images, labels, usage, extra=None):
        """Append rows: images (n, H, W) uint8, label codes, Usage names, extra columns."""
        self.write_lines(self.encode(images, labels, usage, extra), len(images))

    def encode(self, images, labels, usage, extra=None):
        """The text :meth:`write` appends for these rows (safe to call from worker threads)."""
        heads, _ = self.line_tables()
        labels = np.asarray(labels, np.intp)
        head_of = np.where(labels >= 0, labels, len(heads) - 1) if self._with_labels else None
        if self._extra:
            extra = extra or {}
            tails = [("," + usage[i] + "".join("," + _cell(extra[c][i]) for c in self._extra)
                      + "\n").encode() for i in range(len(images))]
            tail_of = None if not tails else np.arange(len(tails))
        else:
            names = {}
            tail_of = np.array([names.setdefault(u, len(names)) for u in usage], np.intp)
            tails = [("," + u + "\n").encode() for u in names]
        return pixels.encode_lines(images, heads=heads, head_of=head_of, tails=tails or [b""],
                                   tail_of=tail_of)

    def write_lines(self, text, rows):
        """Append ``rows`` rows already encoded as text (see :meth:`line_tables`)."""
        self._fh.write(text)
        self.rows += rows


def write_csv(dataset, path, *, label_format="auto", workers=None):
    """Write ``dataset`` as a FER-2013 CSV (``emotion,pixels,Usage`` plus extra columns).

    Labels are written as codes when every label has a fixed code (the seven
    FER-2013 emotions and contempt), otherwise as names, so the file always
    says which emotion each row is. A path ending in ``.gz`` is gzip-compressed;
    the file is replaced atomically. Returns the path.

    >>> import tempfile, os
    >>> ds = FERDataset.from_arrays(np.zeros((1, 2, 2), np.uint8), ["sad"])
    >>> p = write_csv(ds, os.path.join(tempfile.mkdtemp(), "o.csv"))
    >>> open(p).read()
    'emotion,pixels,Usage\\n4,0 0 0 0,Training\\n'
    """
    with_labels = "emotion" in csv_header(dataset)
    bounds = [(lo, min(lo + _ROWS_PER_TASK, len(dataset))) for lo in range(0, len(dataset), _ROWS_PER_TASK)]
    with CSVWriter(path, label_names=dataset.label_names, with_labels=with_labels,
                   extra_columns=list(dataset.extra), label_format=label_format) as out:
        def encode(bounds):
            lo, hi = bounds
            return hi - lo, out.encode(dataset.images[lo:hi], dataset.labels[lo:hi], dataset.usage[lo:hi],
                                       {k: np.asarray(v)[lo:hi] for k, v in dataset.extra.items()})

        for rows, text in ordered_map(encode, bounds, workers=workers or default_workers()):
            out.write_lines(text, rows)
    return Path(path)
