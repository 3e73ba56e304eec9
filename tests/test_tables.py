"""Parquet tables: same rows -> same bytes in any batching, fixed row groups, atomic, clear errors."""
import hashlib
import subprocess
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

from fercsv.core.errors import BadInputError  # noqa: E402
from fercsv.data.tables import ParquetWriter, read_schema, read_table, write_table  # noqa: E402

SCHEMA = {"source": "string", "frame": "int64", "time": "float64", "box": "list<int32>",
          "label": "string", "happy": "float32", "sad": "float32"}


def predictions(n, seed=0):
    """A prediction-like table: one row per face."""
    rng = np.random.default_rng(seed)
    happy = rng.random(n).astype(np.float32)
    return pd.DataFrame({"source": [f"clip{i % 3}.mp4" for i in range(n)], "frame": np.arange(n),
                         "time": np.arange(n) / 25.0, "box": [[i, i + 1, 40, 40] for i in range(n)],
                         "label": np.where(happy > 0.5, "happy", "sad"), "happy": happy, "sad": 1 - happy})


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_rows_same_bytes_in_any_batching_and_kind(tmp_path):
    df = predictions(530)
    digests = set()
    for k, (size, kind) in enumerate([(530, "frame"), (1, "records"), (7, "columns"), (100, "arrow"),
                                      (333, "frame"), (64, "batch")]):
        path = tmp_path / f"t{k}.parquet"
        with ParquetWriter(path, SCHEMA, row_group_size=100) as out:
            for start in range(0, len(df), size):
                part = df.iloc[start:start + size]
                out.write({"frame": part, "records": part.to_dict("records"),
                           "columns": {c: part[c].tolist() for c in part},
                           "arrow": pa.Table.from_pandas(part),  # carries pandas metadata: dropped
                           "batch": pa.RecordBatch.from_pandas(part, preserve_index=False)}[kind])
        assert out.rows == 530
        digests.add(digest(path))
    assert len(digests) == 1
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100] * 5 + [30]
    back = read_table(path).to_pylist()
    assert back == df.astype({"happy": float, "sad": float}).to_dict("records")
    assert b"pandas" not in (read_schema(path).metadata or {})


def test_schema_from_first_batch_and_user_metadata(tmp_path):
    path = write_table(tmp_path / "t.parquet", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
                       metadata={"model": "fer2013"})
    schema = read_schema(path)
    assert schema.names == ["a", "b"] and str(schema.field("a").type) == "int64"
    assert schema.metadata[b"model"] == b"fer2013"
    assert read_table(path, columns=["b"]).column("b").to_pylist() == ["x", "y"]


def test_empty_table_with_schema_and_empty_batches_before_the_types_are_known(tmp_path):
    path = write_table(tmp_path / "empty.parquet", [], SCHEMA)
    table = read_table(path)
    assert table.num_rows == 0 and table.column_names == list(SCHEMA)
    with ParquetWriter(tmp_path / "late.parquet") as out:
        out.write({"a": []})  # no types learnt from an empty batch
        out.write(pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}))  # pandas' nullable ints
    assert read_table(tmp_path / "late.parquet").column("a").to_pylist() == [1, None]
    assert str(read_schema(tmp_path / "late.parquet").field("a").type) == "int64"


def test_error_inside_the_block_leaves_nothing(tmp_path):
    path = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError, match="stop"):
        with ParquetWriter(path, SCHEMA, row_group_size=10) as out:
            out.write(predictions(50))  # row groups already on disk, in the temporary file
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows, message", [
    ({"source": ["a"]}, r"t\.parquet: rows must have exactly the columns .* missing \['frame'"),
    ([{"x": 1}], r"unexpected \['x'\]"),
    ({"source": ["a"], "frame": ["not a number"], "time": [0.0], "box": [[1, 2, 3, 4]], "label": ["happy"],
      "happy": [1.0], "sad": [0.0]}, r"t\.parquet: rows do not fit the table's types"),
])
def test_bad_rows_are_refused_and_nothing_is_written(tmp_path, rows, message):
    path = tmp_path / "t.parquet"
    with pytest.raises(BadInputError, match=message) as info:
        write_table(path, rows, SCHEMA)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_and_files(tmp_path):
    with pytest.raises(BadInputError, match="unknown type 'text'"):
        ParquetWriter(tmp_path / "t.parquet", {"a": "text"})
    with pytest.raises(BadInputError, match="compression .* got 'lzma'"):
        ParquetWriter(tmp_path / "t.parquet", SCHEMA, compression="lzma")
    for empty in ([], {"a": []}, pd.DataFrame({"a": []})):
        with pytest.raises(BadInputError, match="no rows were written and no schema"):
            write_table(tmp_path / "t.parquet", empty)
    (tmp_path / "bad.parquet").write_text("emotion,pixels\n")
    with pytest.raises(BadInputError, match="bad.parquet: not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet")
    with pytest.raises(BadInputError, match="nope.parquet: no such Parquet file"):
        read_table(tmp_path / "nope.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


def test_without_pyarrow_one_line_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None\n"  # as if pyarrow were not installed
            "import fercsv, fercsv.data.tables\n"
            "try:\n    fercsv.data.tables.write_table(sys.argv[1], {'a': [1]})\n"
            "except fercsv.MissingDependencyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.parquet")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'fercsv[scale]'" in out.stdout and out.stdout.count("\n") == 1
    assert not (tmp_path / "t.parquet").exists()
