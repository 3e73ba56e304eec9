"""fercsv concat: shard outputs joined in order, header once, streamed, atomic; bad input refused."""
import gzip
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import run_cli

import fercsv
from fercsv.cli import main

HEADER = "emotion,pixels,Usage\n"


def part(path, rows, header=HEADER, end="\n"):
    path.write_text(header + "\n".join(f"{r},{r} {r},Training" for r in rows) + (end if rows else ""))
    return path


def test_csv_parts_join_in_the_order_given(tmp_path):
    a, b, c = part(tmp_path / "a.csv", [1, 2]), part(tmp_path / "b.csv", []), part(tmp_path / "c.csv", [3], end="")
    report = fercsv.concat([c, b, a], tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == HEADER + "3,3 3,Training\n1,1 1,Training\n2,2 2,Training\n"
    assert (report.rows, report.format, report.sources) == (3, "csv", [str(c), str(b), str(a)])
    assert str(report).startswith(f"joined 3 CSV files (3 rows) into {tmp_path / 'out.csv'}")


def test_globs_sort_naturally_and_gzip_is_read_and_written(tmp_path):
    for k in (10, 2, 1):
        part(tmp_path / f"part-{k}.csv", [k])
    with gzip.open(tmp_path / "part-3.csv", "wt") as fh:  # a gzip part under a plain name
        fh.write(HEADER + "3,3 3,Training\n")
    out = run_cli("concat", tmp_path / "part-*.csv", tmp_path / "all.csv.gz")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("joined 4 CSV files (4 rows)")
    rows = gzip.open(tmp_path / "all.csv.gz", "rt").read().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "10"]
    # a plain write of the same text gives the same gzip bytes (no name or time in the header)
    fercsv.concat([tmp_path / "all.csv.gz"], tmp_path / "plain.csv")
    fercsv.concat([tmp_path / "plain.csv"], tmp_path / "again.csv.gz")
    assert (tmp_path / "again.csv.gz").read_bytes() == (tmp_path / "all.csv.gz").read_bytes()


def parquet_shards(tmp_path, n_rows, n_shards, row_group_size):
    """A prediction table written whole and in shards (as predict --shard would): their paths."""
    from fercsv.data.shards import Shard
    from fercsv.data.tables import ParquetWriter

    rng = np.random.default_rng(0)
    happy = rng.random(n_rows).astype(np.float32)
    rows = [{"source": f"clip{i // 40}.mp4", "frame": i % 40, "time": (i % 40) / 25, "box": [i, 3, 40, 40],
             "label": "happy" if p > 0.5 else "sad", "happy": float(p), "sad": float(1 - p)}
            for i, p in enumerate(happy)]
    schema = {"source": "string", "frame": "int64", "time": "float64", "box": "list<int32>", "label": "string",
              "happy": "float32", "sad": "float32"}
    options = {"row_group_size": row_group_size, "metadata": {"model": "fer2013"}}
    with ParquetWriter(tmp_path / "single.parquet", schema, **options) as out:
        for start in range(0, n_rows, 17):  # batching of the whole run differs from the shards'
            out.write(rows[start:start + 17])
    parts = []
    for k in range(1, n_shards + 1):
        parts.append(tmp_path / f"part-{k}.parquet")
        with ParquetWriter(parts[-1], schema, **options) as out:
            out.write(Shard(k, n_shards).take(rows))
    return parts


@pytest.mark.parametrize("n_shards", [1, 3, 11])
def test_parquet_shards_join_to_the_single_run_byte_for_byte(tmp_path, n_shards):
    pytest.importorskip("pyarrow")
    parts = parquet_shards(tmp_path, 250, n_shards, row_group_size=64)
    assert main(["concat", str(tmp_path / "part-*.parquet"), str(tmp_path / "joined.parquet")]) == 0
    assert (tmp_path / "joined.parquet").read_bytes() == (tmp_path / "single.parquet").read_bytes()
    report = fercsv.concat(parts, tmp_path / "joined2.parquet")
    assert (report.rows, report.format) == (250, "parquet")


def test_parquet_parts_with_other_columns_are_refused(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    from fercsv.data.tables import write_table

    a = write_table(tmp_path / "a.parquet", {"x": [1], "y": ["a"]})
    b = write_table(tmp_path / "b.parquet", {"x": [1.5], "y": ["b"]})
    code, err = run(tmp_path, capsys, "concat", a, b, tmp_path / "out.parquet")
    assert code == 1 and err == (f"fercsv: error: {b}: columns (x double, y string) differ from {a}'s "
                                 "(x int64, y string); join only the outputs of one run")
    assert not (tmp_path / "out.parquet").exists()


def run(tmp_path, capsys, *args):
    """Run the CLI's main(); returns (exit code, stderr) and checks that nothing half-written is left."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    assert err.count("\n") <= 1
    return code, err.strip()


def test_bad_inputs_give_one_line_and_write_nothing(tmp_path, capsys):
    a, b = part(tmp_path / "a.csv", [1]), part(tmp_path / "b.csv", [2])
    other = part(tmp_path / "other.csv", [3], header="label,pixels\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    pytest.importorskip("pyarrow")
    from fercsv.data.tables import write_table

    table = write_table(tmp_path / "t.parquet", {"x": [1]})
    out = tmp_path / "out.csv"
    cases = [
        ([a, other], f"{other}: header 'label,pixels' differs from {a}'s 'emotion,pixels,Usage'; "
                     "join only the outputs of one run"),
        ([a, tmp_path / "missing.csv"], f"{tmp_path / 'missing.csv'}: no such file; did every shard finish?"),
        ([a, tmp_path / "empty.csv"], f"{tmp_path / 'empty.csv'}: is empty (0 bytes); run the shard that "
                                      "writes it again"),
        ([a, b, a], f"{a}: given twice (also as {a}); give each shard's output once"),
        ([a, table], f"{table}: is PARQUET but {a} is CSV; join files of one format"),
        ([tmp_path / "nothing-*.csv"], f"{tmp_path / 'nothing-*.csv'}: no file matches this pattern; "
                                       "check the shard outputs' names"),
        ([tmp_path], f"{tmp_path}: is not a file; give the shards' output files"),
    ]
    for sources, message in cases:
        assert run(tmp_path, capsys, "concat", *sources, out) == (1, f"fercsv: error: {message}")
        assert not out.exists()
    assert run(tmp_path, capsys, "concat", a, tmp_path / "out.parquet") == (
        1, f"fercsv: error: {tmp_path / 'out.parquet'}: names a PARQUET file but the inputs are CSV; "
           "end it in .csv")
    # the real process: one line, exit 1, no traceback; and argparse's usage error without a SHARD
    proc = run_cli("concat", a, other, out)
    assert (proc.returncode, proc.stderr.count("\n"), proc.stdout) == (1, 1, "")
    assert run_cli("concat", out).returncode == 2 and not out.exists()


def test_the_output_first_order_is_refused_saying_which_is_which(tmp_path, capsys):
    """Output last, as in convert SRC DST; the old output-first order fails in one line and writes nothing."""
    a, b = part(tmp_path / "a.csv", [1]), part(tmp_path / "b.csv", [2])
    joined = tmp_path / "joined.csv"
    code, err = run(tmp_path, capsys, "concat", joined, a, b)
    assert code == 1 and "the parts come first and the output last" in err and f"{str(joined)!r} does not exist" in err
    with pytest.raises(fercsv.BadInputError, match="the parts come first and the output last"):
        fercsv.concat(joined, [a, b])
    assert not joined.exists() and b.read_text() == HEADER + "2,2 2,Training\n"
    assert run(tmp_path, capsys, "concat", a, b, joined) == (0, "")
    assert joined.read_text() == HEADER + "1,1 1,Training\n2,2 2,Training\n"


def test_out_among_the_inputs_is_refused_even_by_another_name(tmp_path):
    a, b = part(tmp_path / "a.csv", [1]), part(tmp_path / "b.csv", [2])
    os.link(a, tmp_path / "same.csv")
    for dst in (a, tmp_path / "same.csv", tmp_path / "." / "b.csv"):
        with pytest.raises(fercsv.BadInputError, match=f"{dst}: is one of the inputs"):
            fercsv.concat([a, b], dst)
    os.symlink(b, tmp_path / "link.csv")
    with pytest.raises(fercsv.BadInputError, match="link.csv: given twice"):
        fercsv.concat([a, b, tmp_path / "link.csv"], tmp_path / "out.csv")
    assert a.read_text() == HEADER + "1,1 1,Training\n" and b.read_text() == HEADER + "2,2 2,Training\n"


@pytest.mark.slow
def test_memory_stays_flat_for_large_parts(tmp_path):
    row = ("3," + " ".join(["128"] * 2304) + ",Training\n").encode()  # one 48x48 face, 9 kB
    parts = []
    for k in range(2):
        parts.append(tmp_path / f"p{k}.csv")
        with open(parts[-1], "wb") as fh:
            fh.write(HEADER.encode())
            for _ in range(4):
                fh.write(row * 1000)  # 9 MB at a time: 36 MB a part
    code = textwrap.dedent(f"""
        import resource, fercsv
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = fercsv.concat({[str(p) for p in parts]!r}, {str(tmp_path / 'out.csv')!r})
        print(report.rows, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    rows, grown_mb = map(int, out.stdout.split())
    assert rows == 8000 and (tmp_path / "out.csv").stat().st_size == 2 * 4 * 1000 * len(row) + len(HEADER)
    assert grown_mb < 16, f"peak memory grew {grown_mb} MB while joining 72 MB"


def test_parquet_without_pyarrow_names_the_extra(tmp_path):
    pytest.importorskip("pyarrow")
    from fercsv.data.tables import write_table

    a = write_table(tmp_path / "a.parquet", {"x": [1]})
    code = ("import sys; sys.modules['pyarrow'] = None\n"  # as if the scale extra were not installed
            "from fercsv.cli import main; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, "concat", str(a), str(tmp_path / "out.parquet")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("fercsv: error: Parquet tables needs the Python package 'pyarrow'")
    assert out.stderr.rstrip().endswith("install it with: pip install 'fercsv[scale]'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]
