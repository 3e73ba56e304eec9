"""Parquet tables written deterministically: the same rows give the same bytes, however batched.

Rows are buffered and written in row groups of a fixed number of rows, the file carries only
metadata that depends on its content and settings, and it appears under its name only when
complete. pyarrow (``pip install "fercsv[scale]"``) is imported on first use.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "faces.parquet")
>>> with ParquetWriter(path, {"source": "string", "label": "string", "happy": "float32"}) as out:
...     out.write([{"source": "a.jpg", "label": "happy", "happy": 0.9}])
...     out.write({"source": ["b.jpg"], "label": ["sad"], "happy": [0.1]})
>>> read_table(path).column("source").to_pylist()
['a.jpg', 'b.jpg']
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from ..core.atomic import atomic_path
from ..core.errors import BadInputError, first_line, require

#: Rows per row group unless the writer is told otherwise (the last group holds the rest).
ROW_GROUP_SIZE = 65536
#: Parquet compression codecs the writer offers (all in pyarrow's wheels).
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
#: Keys of the file metadata that record the writer's settings, so ``fercsv concat`` can
#: rewrite shards with the same settings (and so the same bytes as a single run).
ROW_GROUP_KEY, COMPRESSION_KEY = "fercsv.row_group_size", "fercsv.compression"


def pyarrow():
    """The pyarrow module, or MissingDependencyError naming the ``scale`` extra."""
    require("pyarrow.parquet", extra="scale", feature="Parquet tables")
    import pyarrow as pa

    return pa


def make_schema(schema):
    """A pyarrow schema from a schema, a ``{name: type}`` mapping or ``(name, type)`` pairs.

    Types are pyarrow types or their names (``"string"``, ``"int64"``, ``"float32"``, ``"bool"``,
    ``"double"``, ``"list<int32>"``...), so callers need not import pyarrow.

    >>> make_schema({"frame": "int64", "box": "list<int32>"}).types
    [DataType(int64), ListType(list<item: int32>)]
    """
    pa = pyarrow()
    if isinstance(schema, pa.Schema):
        return schema
    pairs = list(schema.items()) if isinstance(schema, dict) else list(schema)
    return pa.schema([pa.field(str(name), _type(pa, name, kind)) for name, kind in pairs])


def _stored(pa, kind):
    """``kind`` as it reads back from Parquet: list items are named ``element`` there, so naming
    them so on writing makes a rewritten file (``concat``) carry the very same schema bytes."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = kind.value_field
        make = pa.list_ if pa.types.is_list(kind) else pa.large_list
        return make(pa.field("element", _stored(pa, item.type), item.nullable))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_stored(pa, f.type)) for f in kind])
    return kind


def _stored_schema(pa, schema):
    return pa.schema([f.with_type(_stored(pa, f.type)) for f in schema], metadata=schema.metadata)


def _type(pa, name, kind):
    if not isinstance(kind, str):
        return kind
    inner = kind.strip()
    if inner.startswith("list<") and inner.endswith(">"):
        return pa.list_(_type(pa, name, inner[5:-1]))
    try:
        return pa.type_for_alias(inner)
    except ValueError:
        raise BadInputError(f"column {name!r}: unknown type {kind!r}; use a pyarrow type or a name such "
                            "as string, int64, float32, bool, list<int32>") from None


class ParquetWriter:
    """Stream rows into a Parquet file at ``path``; use as a context manager.

    ``schema``: a pyarrow schema, a ``{name: type}`` mapping (see :func:`make_schema`), or None to
    take the first batch's types. ``write`` takes a list of row dicts, a dict of columns, a pandas
    DataFrame or a pyarrow Table/RecordBatch; every batch must have exactly the schema's columns.
    Rows are written in groups of ``row_group_size`` (the last group holds the rest), so the file's
    bytes depend only on the rows, the schema and the settings. ``metadata`` (str -> str) is stored
    in the file. Nothing appears at ``path`` unless the ``with`` block finishes without error.
    """

    def __init__(self, path, schema=None, *, row_group_size: int = ROW_GROUP_SIZE,
                 compression: str = "zstd", metadata: dict | None = None):
        from ..core.checks import choice, integer

        integer("ParquetWriter", "row_group_size", row_group_size, minimum=1)
        choice("ParquetWriter", "compression", compression, COMPRESSIONS)
        pa = pyarrow()
        self.path = Path(path)
        self.schema = _stored_schema(pa, make_schema(schema)) if schema is not None else None
        self.row_group_size = int(row_group_size)
        self.compression = compression
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.metadata.update({ROW_GROUP_KEY: str(self.row_group_size), COMPRESSION_KEY: compression})
        self.rows = 0
        self._pending, self._pending_rows = [], 0
        self._stack = self._writer = self._tmp = None

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def __exit__(self, kind, exc, tb):
        stack, self._stack = self._stack, None
        try:
            if kind is None:
                self._flush(final=True)
        except BaseException:
            self._close()
            stack.__exit__(*sys.exc_info())  # the temporary file goes; nothing appears at path
            raise
        self._close()
        return stack.__exit__(kind, exc, tb)

    def _close(self):
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def write(self, rows) -> None:
        """Append a batch of rows (``.rows`` counts all rows written so far)."""
        if self._stack is None:
            raise RuntimeError("ParquetWriter.write outside its 'with' block")
        table = self._table(rows)
        if table.num_rows:
            self._pending.append(table)
            self._pending_rows += table.num_rows
            self.rows += table.num_rows
            if self._pending_rows >= self.row_group_size:
                self._flush(final=False)

    def _table(self, rows):
        pa = pyarrow()
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if hasattr(rows, "columns") and hasattr(rows, "iloc"):  # a pandas DataFrame
            self._check_columns([str(c) for c in rows.columns])
            try:
                rows = pa.Table.from_pandas(rows, schema=self.schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise self._misfit(exc) from None
        if not isinstance(rows, (pa.Table, dict)):
            rows = list(rows)
            if not rows:
                return (self.schema or pa.schema([])).empty_table()
        names = rows.column_names if isinstance(rows, pa.Table) else \
            list(rows) if isinstance(rows, dict) else _row_keys(rows)
        self._check_columns(names)
        try:
            if isinstance(rows, dict):
                rows = pa.Table.from_pydict(rows, schema=self.schema)
            elif isinstance(rows, list):
                rows = pa.Table.from_pylist(rows, schema=self.schema)
            if self.schema is None:
                if not rows.num_rows:  # nothing to learn the types from
                    return rows
                self.schema = _stored_schema(pa, rows.schema.remove_metadata())  # the first rows fix them
            return rows.select(self.schema.names).cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise self._misfit(exc) from None

    def _misfit(self, exc):
        wanted = ", ".join(f"{f.name} {f.type}" for f in self.schema) if self.schema else "inferred"
        return BadInputError(f"{self.path}: rows do not fit the table's types ({wanted}): {first_line(exc)}")

    def _check_columns(self, names):
        if self.schema is None or set(names) == set(self.schema.names):
            if len(set(names)) != len(names):
                raise BadInputError(f"{self.path}: rows repeat a column name: {names}")
            return
        missing = [n for n in self.schema.names if n not in names]
        extra = [n for n in names if n not in self.schema.names]
        raise BadInputError(f"{self.path}: rows must have exactly the columns {self.schema.names}; "
                            f"missing {missing}, unexpected {extra}")

    def _flush(self, *, final):
        pa = pyarrow()
        if self._pending:
            table = pa.concat_tables(self._pending)
        elif final and self._writer is None:
            if self.schema is None:
                raise BadInputError(f"{self.path}: no rows were written and no schema was given; "
                                    "pass schema= so an empty table can be written")
            table = self.schema.empty_table()
        else:
            return
        size = self.row_group_size
        whole = table.num_rows if final else table.num_rows // size * size
        for start in range(0, max(whole, 1 if final else 0), size):
            # one contiguous chunk per group, so the encoder sees the same arrays however rows came
            self._write_group(table.slice(start, min(size, whole - start)).combine_chunks())
        rest = table.slice(whole)
        self._pending, self._pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def _write_group(self, table):
        if self._writer is None:
            import pyarrow.parquet as pq

            schema = self.schema.with_metadata(dict(sorted(self.metadata.items())))
            self._writer = pq.ParquetWriter(str(self._tmp), schema, compression=self.compression)
        if table.num_rows:
            self._writer.write_table(table, row_group_size=self.row_group_size)


def _row_keys(rows):
    keys = list(rows[0]) if isinstance(rows[0], dict) else None
    for i, row in enumerate(rows):
        if keys is None or not isinstance(row, dict) or row.keys() != set(keys):
            raise BadInputError(f"row {i} of the batch is not a dict with the columns of its first row "
                                f"({keys}); got {str(row)[:80]}")
    return keys


def write_table(path, rows, schema=None, **options) -> Path:
    """Write ``rows`` (anything :meth:`ParquetWriter.write` takes) to ``path`` in one go.

    >>> import tempfile, os
    >>> p = write_table(os.path.join(tempfile.mkdtemp(), "t.parquet"), {"x": [1, 2]}, {"x": "int16"})
    >>> str(read_schema(p).field("x").type)
    'int16'
    """
    with ParquetWriter(path, schema, **options) as out:
        out.write(rows)
    return Path(path)


def _open(path):
    pa = pyarrow()
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such Parquet file")
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInputError(f"{path}: not a readable Parquet file ({exc})") from None


def read_table(path, *, columns=None):
    """The Parquet file at ``path`` as a pyarrow Table (``.to_pandas()`` gives a DataFrame)."""
    return _open(path).read(columns=columns)


def read_schema(path):
    """The pyarrow schema of a Parquet file, with its metadata."""
    return _open(path).schema_arrow


def iter_batches(path, *, batch_size: int = ROW_GROUP_SIZE):
    """Yield a Parquet file's rows as pyarrow RecordBatches, a bounded number of rows at a time."""
    yield from _open(path).iter_batches(batch_size=batch_size)


def writer_settings(schema) -> dict:
    """``row_group_size`` and ``compression`` recorded in a fercsv-written file's schema metadata.

    >>> writer_settings(make_schema({"x": "int8"}).with_metadata({ROW_GROUP_KEY: "10"}))
    {'row_group_size': 10}
    """
    meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    settings = {}
    if meta.get(ROW_GROUP_KEY, "").isdigit():
        settings["row_group_size"] = int(meta[ROW_GROUP_KEY])
    if meta.get(COMPRESSION_KEY) in COMPRESSIONS:
        settings["compression"] = meta[COMPRESSION_KEY]
    return settings


def user_metadata(schema) -> dict:
    """A schema's metadata without pyarrow's own keys and the writer settings."""
    return {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()
            if not k.startswith(b"ARROW:") and k.decode() not in (ROW_GROUP_KEY, COMPRESSION_KEY)}
