"""Shards and joins: N convert shards against one run, concat against the naive pandas/pyarrow joins.

Usage: python benchmarks/bench_concat.py [--data PATH] [--shards N] [--table-rows N]
PATH (or $FERCSV_DATA) is the FER-2013 folder or ../shared/data/fer2013-images.tar.gz; without
it a synthetic folder (fercsv.synth) stands in. Peak memory is measured in a fresh process per
join (growth of the peak resident size after the imports; Linux /proc).
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder, figure  # noqa: E402

import fercsv  # noqa: E402

_MEASURE = """
import json, time
{imports}
def peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
open("/proc/self/clear_refs", "w").write("5")  # the peak so far becomes the current size
before = peak_mb()
t = time.perf_counter()
{work}
print(json.dumps([time.perf_counter() - t, peak_mb() - before]))
"""

JOINS = {
    "csv": {
        "fercsv": ("import fercsv", "fercsv.concat(PARTS, OUT)"),
        "naive": ("import pandas as pd",
                  "pd.concat([pd.read_csv(p) for p in PARTS]).to_csv(OUT, index=False)"),
    },
    "parquet": {  # pyarrow imported before the peak is reset, as for the naive way
        "fercsv": ("import fercsv, pyarrow.parquet", "fercsv.concat(PARTS, OUT)"),
        "naive": ("import pyarrow as pa, pyarrow.parquet as pq",
                  "pq.write_table(pa.concat_tables([pq.read_table(p) for p in PARTS]), OUT)"),
    },
}


def measure(kind, way, parts, out):
    """(seconds, peak MB grown) of one join, in a fresh process."""
    imports, work = JOINS[kind][way]
    code = _MEASURE.format(imports=imports, work=work.replace("OUT", repr(str(out))).replace(
        "PARTS", repr([str(p) for p in parts])))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def bench_convert(folder, work, shards):
    single = work / "single.csv"
    t = time.perf_counter()
    fercsv.convert(folder, single)
    one = time.perf_counter() - t
    parts, times = [], []
    for k in range(1, shards + 1):
        parts.append(work / f"part-{k}.csv")
        t = time.perf_counter()
        fercsv.convert(folder, parts[-1], shard=f"{k}/{shards}")
        times.append(time.perf_counter() - t)
    n = fercsv.read_csv(single).images.shape[0]
    figure("convert, one run", n / one, "images/s")
    figure(f"convert, {shards} shards one by one", n / sum(times), "images/s", ratio=one / sum(times),
           versus="one run", note=f"slowest shard {max(times):.1f} s of {one:.1f} s")
    return single, parts


def bench_join(kind, single, parts, work):
    suffix = single.name.split(".", 1)[1]
    results = {way: measure(kind, way, parts, work / f"{way}-joined.{suffix}") for way in ("naive", "fercsv")}
    (s_naive, m_naive), (s_ours, m_ours) = results["naive"], results["fercsv"]
    total = sum(p.stat().st_size for p in parts) / 2 ** 20
    same = {way: (work / f"{way}-joined.{suffix}").read_bytes() == single.read_bytes() for way in results}
    figure(f"concat {len(parts)} {kind} parts ({total:.0f} MB)", total / s_ours, "MB/s", ratio=s_naive / s_ours,
           note=f"byte-identical to one run: fercsv {same['fercsv']}, naive {same['naive']}")
    figure(f"concat {kind}, peak memory grown", m_ours, "MB", ratio=m_naive / max(m_ours, 1),
           note=f"naive {m_naive:.0f} MB")


def prediction_table(work, rows, shards):
    """A prediction-like table written whole and in shards with the fercsv writer."""
    from fercsv.data.shards import Shard
    from fercsv.data.tables import ParquetWriter

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7), rows).astype(np.float32)
    names = fercsv.FER2013_LABELS
    columns = {"source": np.array([f"video{i // 10000:04d}.mp4" for i in range(rows)], dtype=object),
               "frame": np.arange(rows) % 10000, "time": (np.arange(rows) % 10000) / 25.0,
               "box": [[int(x), 40, 96, 96] for x in rng.integers(0, 500, rows)],
               "label": np.array(names, dtype=object)[probs.argmax(1)],
               **{name: probs[:, i] for i, name in enumerate(names)}}
    schema = {"source": "string", "frame": "int64", "time": "float64", "box": "list<int32>",
              "label": "string", **{name: "float32" for name in names}}
    single = work / "single.parquet"
    with ParquetWriter(single, schema) as out:
        for start in range(0, rows, 50_000):
            out.write({k: v[start:start + 50_000] for k, v in columns.items()})
    parts = []
    for k in range(1, shards + 1):
        lo, hi = Shard(k, shards).bounds(rows)
        parts.append(work / f"part-{k}.parquet")
        with ParquetWriter(parts[-1], schema) as out:
            out.write({key: v[lo:hi] for key, v in columns.items()})
    return single, parts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--table-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fercsv-bench-concat-") as work:  # about 0.7 GB for FER-2013
        run(Path(work), args)


def run(work, args):
    folder = fer_folder(args.data)
    if folder is None:
        print("FER-2013 not found: a synthetic folder stands in")
        folder = work / "synth"
        fercsv.synth(folder, per_class=500)
    single, parts = bench_convert(folder, work, args.shards)
    bench_join("csv", single, parts, work)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("pyarrow missing: Parquet figures need pip install 'fercsv[scale]'")
        return
    table_dir = work / "table"
    table_dir.mkdir()
    single, parts = prediction_table(table_dir, args.table_rows, args.shards)
    bench_join("parquet", single, parts, table_dir)


if __name__ == "__main__":
    main()
