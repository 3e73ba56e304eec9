"""Speed of fercsv's CSV read, CSV write and folder->CSV conversion against the naive ways.

Usage: python benchmarks/bench_csv.py [--data PATH] [--repeat N]
PATH (or $FERCSV_DATA) is the FER-2013 folder or ../shared/data/fer2013-images.tar.gz;
without it, 35,887 random 48x48 images are generated instead.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, fer_folder, figure  # noqa: E402

import fercsv  # noqa: E402
from fercsv.data.convert import discover  # noqa: E402


def naive_convert(src, dst):
    """The plain loop: PIL opens each image, pixels joined with ' '.join(map(str, ...))."""
    entries, _ = discover(src)
    with open(dst, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for e in entries:
            img = Image.open(e.path).convert("L")
            if img.size != (48, 48):
                img = img.resize((48, 48))
            fh.write(f"{fercsv.data.labels.known_code(e.label)},{' '.join(map(str, img.getdata()))},{e.usage}\n")


def naive_read(path):
    """The per-row way of the tutorials."""
    df = pd.read_csv(path)
    x = np.stack([np.array(s.split(), dtype=np.uint8) for s in df["pixels"]])
    return x.reshape(-1, 48, 48), df["emotion"].to_numpy(), df["Usage"].to_numpy()


def naive_write(ds, path):
    with open(path, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for img, y, u in zip(ds.images, ds.labels, ds.usage):
            fh.write(f"{y},{' '.join(map(str, img.ravel().tolist()))},{u}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fercsv-bench-"))
    folder = fer_folder(args.data)
    if folder is None:
        print("FER-2013 not found: generating 35,887 random 48x48 images")
        rng = np.random.default_rng(0)
        ds = fercsv.FERDataset.from_arrays(rng.integers(0, 256, (35887, 48, 48), dtype=np.uint8),
                                           rng.integers(0, 7, 35887))
        folder = work / "folder"
        fercsv.csv_to_folder(ds, folder)
    print(f"data: {folder}; cores: {os.cpu_count()}")

    t_naive, _ = best_of(lambda: naive_convert(folder, work / "naive.csv"), 1)
    n = sum(1 for _ in open(work / "naive.csv")) - 1
    t_fast, report = best_of(lambda: fercsv.folder_to_csv(folder, work / "fast.csv"), args.repeat)
    figure("convert folder->CSV naive (PIL)", n / t_naive, "images/s")
    figure("convert folder->CSV fercsv", report.rows / t_fast, "images/s", t_naive / t_fast)
    same = np.array_equal(naive_read(work / "naive.csv")[0], fercsv.read_csv(work / "fast.csv").images)
    print(f"  (same pixels as the naive CSV: {same}; rows {report.rows}, skipped {len(report.skipped)})")

    csv = work / "fast.csv"
    t_naive, (xn, _, _) = best_of(lambda: naive_read(csv), 1)
    t_fast, ds = best_of(lambda: fercsv.read_csv(csv), args.repeat)
    assert np.array_equal(xn, ds.images)
    size_mb = csv.stat().st_size / 1e6
    figure("read_csv naive (per-row split)", size_mb / t_naive, "MB/s", note=f"{t_naive:.2f} s")
    figure("read_csv fercsv", size_mb / t_fast, "MB/s", t_naive / t_fast, note=f"{t_fast:.2f} s")

    t_naive, _ = best_of(lambda: naive_write(ds, work / "nw.csv"), 1)
    t_fast, _ = best_of(lambda: fercsv.write_csv(ds, work / "fw.csv"), args.repeat)
    assert (work / "nw.csv").read_bytes() == (work / "fw.csv").read_bytes()
    figure("write_csv naive (per-row join)", len(ds) / t_naive, "rows/s", note=f"{t_naive:.2f} s")
    figure("write_csv fercsv", len(ds) / t_fast, "rows/s", t_naive / t_fast, note=f"{t_fast:.2f} s")
    t0 = time.perf_counter()
    fercsv.csv_to_folder(csv, work / "back")
    figure("convert CSV->folder fercsv (PNG)", len(ds) / (time.perf_counter() - t0), "images/s")


if __name__ == "__main__":
    main()
