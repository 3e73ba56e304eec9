"""Join the outputs of shards (CSV or Parquet) into one file, in the order given, streaming.

The joined file has the bytes a single run would have written: CSV parts give their header
once and their rows as they are; Parquet parts are rewritten with the settings they were
written with (:mod:`fercsv.data.tables`). Inputs are all checked before anything is written.
"""
from __future__ import annotations

import glob
import gzip
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.atomic import atomic_open
from ..core.errors import BadInputError

#: Formats concat joins: how a file of each starts, and the endings that name it for OUT.
FORMATS = {"csv": (".csv", ".csv.gz", ".txt", ".tsv"), "parquet": (".parquet", ".pq")}
_PARQUET_MAGIC, _GZIP_MAGIC = b"PAR1", b"\x1f\x8b"
_CHUNK = 1 << 20


@dataclass
class ConcatReport:
    """What :func:`concat` joined: the inputs in order, rows in all, the format."""

    destination: str
    sources: list = field(default_factory=list)
    format: str = "csv"
    rows: int = 0
    seconds: float = 0.0

    def to_dict(self):
        """Plain-data form for JSON."""
        return {"destination": self.destination, "sources": self.sources, "format": self.format,
                "rows": self.rows, "seconds": round(self.seconds, 3)}

    def __str__(self):
        return (f"joined {len(self.sources)} {self.format.upper()} files ({self.rows} rows) into "
                f"{self.destination} in {self.seconds:.1f} s")


def natural_key(text: str):
    """Sort key that orders numbers by value: ``part-2`` before ``part-10``.

    >>> sorted(["part-10.csv", "part-2.csv", "part-1.csv"], key=natural_key)
    ['part-1.csv', 'part-2.csv', 'part-10.csv']
    """
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text))]


def expand(sources) -> list[Path]:
    """The input files: each source as given, or a glob pattern's matches in natural order.

    A name that exists is taken as is, even with ``*`` or ``?`` in it.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = []
    for source in sources:
        text = str(source)
        if glob.has_magic(text) and not os.path.lexists(text):
            matches = sorted(glob.glob(text), key=natural_key)
            if not matches:
                raise BadInputError(f"{text}: no file matches this pattern; check the shard outputs' names")
            paths += [Path(m) for m in matches]
        else:
            paths.append(Path(text))
    if not paths:
        raise BadInputError("concat: give at least one file to join")
    return paths


def format_of(path) -> str:
    """``csv`` or ``parquet``, from how the file starts (Parquet files start with ``PAR1``)."""
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == _PARQUET_MAGIC else "csv"


def _output_format(dst) -> str:
    name = Path(dst).name.lower()
    return "parquet" if name.endswith(FORMATS["parquet"]) else "csv"


def check_inputs(dst, paths) -> str:
    """Refuse missing, empty, repeated or mixed inputs and an OUT among them; returns the format."""
    seen = {}
    for path in paths:
        if not path.exists():
            raise BadInputError(f"{path}: no such file; did every shard finish?")
        if not path.is_file():
            raise BadInputError(f"{path}: is not a file; give the shards' output files")
        stat = path.stat()
        if stat.st_size == 0:
            raise BadInputError(f"{path}: is empty (0 bytes); run the shard that writes it again")
        first = seen.setdefault((stat.st_dev, stat.st_ino), path)
        if first is not path:
            raise BadInputError(f"{path}: given twice (also as {first}); give each shard's output once")
    if os.path.exists(dst):
        stat = os.stat(dst)
        if (stat.st_dev, stat.st_ino) in seen:
            raise BadInputError(f"{dst}: is one of the inputs; write the joined file under another name")
    kinds = [(format_of(p), p) for p in paths]
    kind, first_path = kinds[0]
    for other, path in kinds[1:]:
        if other != kind:
            raise BadInputError(f"{path}: is {other.upper()} but {first_path} is {kind.upper()}; "
                                "join files of one format")
    wanted = _output_format(dst)
    if wanted != kind:
        raise BadInputError(f"{dst}: names a {wanted.upper()} file but the inputs are {kind.upper()}; "
                            f"end it in {FORMATS[kind][0]}")
    return kind


def concat(sources, dst) -> ConcatReport:
    """Join shard outputs ``sources`` (files or glob patterns) into ``dst``, in the order given.

    The output comes last, as in every fercsv verb (``convert SRC DST``); the other order is
    refused with a message saying which is which.

    CSV parts (plain or ``.gz``) must have the same header, written once; Parquet parts the same
    columns and types. Rows are streamed, so memory stays flat however large the parts are.
    ``dst`` (``.gz``: compressed; ``.parquet``: Parquet) appears only when complete and may not
    be one of the inputs. Globs expand in natural order (``part-2`` before ``part-10``).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for k in (1, 2, 10):
    ...     _ = (d / f"part-{k}.csv").write_text(f"emotion,pixels,Usage\\n{k},0 0,Training\\n")
    >>> str(concat([str(d / "part-*.csv")], d / "all.csv").rows)
    '3'
    >>> (d / "all.csv").read_text().splitlines()[1:]
    ['1,0 0,Training', '2,0 0,Training', '10,0 0,Training']
    """
    start = time.perf_counter()
    _check_order(sources, dst)
    paths = expand(sources)
    kind = check_inputs(dst, paths)
    report = ConcatReport(str(dst), [str(p) for p in paths], kind)
    join = _join_parquet if kind == "parquet" else _join_csv
    report.rows = join(dst, paths)
    report.seconds = time.perf_counter() - start
    return report


def _check_order(sources, dst):
    """Refuse the output-first order (``concat(out, parts)``, ``fercsv concat OUT PART...``) in one line."""
    order = "concat: the parts come first and the output last (fercsv concat PART... OUTPUT, as in convert SRC DST)"
    if isinstance(dst, (list, tuple)):
        raise BadInputError(f"{order}; the output {str(sources)!r} was given first: call concat(parts, output)")
    parts = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if parts and not os.path.lexists(str(parts[0])) and not glob.has_magic(str(parts[0])) \
            and os.path.lexists(str(dst)):
        raise BadInputError(f"{order}; {str(parts[0])!r} does not exist yet while {str(dst)!r} does, so the "
                            "order looks reversed: put the output last")


def _open_csv(path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _header(path) -> bytes:
    try:
        with _open_csv(path) as fh:
            line = fh.readline()
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: cannot be read ({exc}); run the shard that writes it again") from None
    if not line.strip():
        raise BadInputError(f"{path}: has no header line; run the shard that writes it again")
    return line


def _bare(header: bytes) -> bytes:
    return header.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")


def _join_csv(dst, paths):
    headers = [_header(p) for p in paths]
    for path, header in zip(paths[1:], headers[1:]):
        if _bare(header) != _bare(headers[0]):
            raise BadInputError(f"{path}: header {_short(header)} differs from {paths[0]}'s "
                                f"{_short(headers[0])}; join only the outputs of one run")
    rows = 0
    with atomic_open(dst) as out:
        out.write(headers[0] if headers[0].endswith(b"\n") else headers[0] + b"\n")
        for path in paths:
            with _open_csv(path) as fh:
                fh.readline()
                last = b"\n"
                while chunk := fh.read(_CHUNK):
                    out.write(chunk)
                    rows += chunk.count(b"\n")
                    last = chunk[-1:]
                if last != b"\n":  # a part without a final newline: end its last row
                    out.write(b"\n")
                    rows += 1
    return rows


def _short(header: bytes) -> str:
    text = _bare(header).decode("utf-8", "replace")
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _join_parquet(dst, paths):
    from .tables import ParquetWriter, iter_batches, read_schema, user_metadata, writer_settings

    schemas = [read_schema(p) for p in paths]
    first = schemas[0]
    for path, schema in zip(paths[1:], schemas[1:]):
        if not schema.remove_metadata().equals(first.remove_metadata()):
            raise BadInputError(f"{path}: columns {_columns(schema)} differ from {paths[0]}'s "
                                f"{_columns(first)}; join only the outputs of one run")
    with ParquetWriter(dst, first.remove_metadata(), metadata=user_metadata(first),
                       **writer_settings(first)) as out:
        for path in paths:
            for batch in iter_batches(path):
                out.write(batch)
    return out.rows


def _columns(schema) -> str:
    text = ", ".join(f"{f.name} {f.type}" for f in schema)
    return f"({text if len(text) <= 100 else text[:97] + '...'})"
