"""Speed of fercsv's folder->CSV conversion, CSV read and CSV write against the naive ways,
beside the limits of each stage on this machine, all measured in one run.

Usage: python benchmarks/bench_csv.py [--data PATH] [--repeat N] [--workers N] [--no-naive]
                                     [--only convert,limits,read,memory,write]
PATH (or $FERCSV_DATA) is the FER-2013 folder or ../shared/data/fer2013-images.tar.gz;
without it, 35,887 random 48x48 images are generated instead.

The ways alternate round by round and each keeps its best round, so a busy machine slows
both alike; ratios are wall-time ratios of the same run. CPU seconds (this process and its
worker processes) are printed beside them: on a loaded machine they show the work done even
when the cores were not all ours.
"""
import argparse
import io
import os
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder, figure, interleaved  # noqa: E402

import fercsv  # noqa: E402
from fercsv.core.parallel import default_workers  # noqa: E402
from fercsv.data import csvscan, pixels  # noqa: E402
from fercsv.data.convert import discover  # noqa: E402
from fercsv.data.labels import known_code  # noqa: E402
from fercsv.vision.images import read_file  # noqa: E402


def naive_convert(src, dst, *, tolist=False):
    """The plain loop of the tutorials: cv2 decodes each image, ``' '.join`` its pixels, one write
    per row. ``tolist=True`` is the tuned form (Python ints join faster than numpy scalars).

    The file list comes from fercsv's own listing, so the rows come in the same order and the
    two outputs can be compared byte for byte; listing is a small part of the time.
    """
    entries, _ = discover(src)
    with open(dst, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for e in entries:
            img = cv2.imread(e.path, cv2.IMREAD_GRAYSCALE)
            if img.shape != (48, 48):
                img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
            values = img.ravel().tolist() if tolist else img.flatten()
            fh.write(f"{known_code(e.label)},{' '.join(map(str, values))},{e.usage}\n")
    return len(entries)


def naive_read(path):
    """The per-row way of the tutorials: pandas, then ``s.split()`` row by row."""
    df = pd.read_csv(path)
    x = np.stack([np.array(s.split(), dtype=np.uint8) for s in df["pixels"]])
    return x.reshape(-1, 48, 48), df["emotion"].to_numpy(), df["Usage"].to_numpy()


def naive_write(ds, path):
    with open(path, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for img, y, u in zip(ds.images, ds.labels, ds.usage):
            fh.write(f"{y},{' '.join(map(str, img.ravel().tolist()))},{u}\n")


def _rate(func, n, repeat=5):
    """Best items per second of ``func()`` handling ``n`` items, on this one core."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t)
    return n / best


def limits(folder, csv_path, work, *, sample=6000):
    """Measure what each stage can do on one core (and the disk), the ceiling of the pipeline."""
    print(f"-- limits of each stage ({sample} images sampled; one core unless stated; warm page cache)")
    entries, _ = discover(folder)
    picked = [entries[i].path for i in np.linspace(0, len(entries) - 1, sample).astype(int)]
    datas = [read_file(p) for p in picked]
    jpeg_bytes = sum(map(len, datas)) / len(datas)
    read_rate = _rate(lambda: [read_file(p) for p in picked], sample)
    figure("read image files (open+read+close)", read_rate, "files/s", note=f"{jpeg_bytes:.0f} B each")
    bufs = [np.frombuffer(d, np.uint8) for d in datas]
    jpeg_rate = _rate(lambda: [cv2.imdecode(b, cv2.IMREAD_GRAYSCALE) for b in bufs], sample)
    figure("decode 48x48 grey JPEG (cv2)", jpeg_rate, "images/s")
    images = np.stack([cv2.imdecode(b, cv2.IMREAD_GRAYSCALE) for b in bufs])
    pngs = [np.frombuffer(cv2.imencode(".png", im)[1].tobytes(), np.uint8) for im in images]
    figure("decode 48x48 grey PNG (cv2)", _rate(lambda: [cv2.imdecode(b, cv2.IMREAD_GRAYSCALE)
                                                         for b in pngs], sample), "images/s")
    heads, tails = [b"3,"], [b",Training\n"]
    out = bytearray(pixels.encoded_size(256, 48 * 48, heads, tails))
    text_len = len(pixels.encode_lines(images, heads=heads, tails=tails))
    fmt = _rate(lambda: [pixels.encode_lines(images[i:i + 256], heads=heads, tails=tails, out=out)
                         for i in range(0, sample, 256)], text_len)
    join = _rate(lambda: [" ".join(map(str, im.ravel().tolist())) for im in images[:1000]],
                 text_len * 1000 / sample, repeat=2)
    figure("format uint8 -> text, table encoder", fmt / 1e6, "MB/s", fmt / join,
           note=f"{fmt * sample / text_len:,.0f} images/s", versus="' '.join")
    figure("format uint8 -> text, ' '.join", join / 1e6, "MB/s")
    text = pixels.encode_lines(images, heads=heads, tails=tails) * max(1, (32 << 20) // text_len)
    blocks = list(csvscan.iter_blocks(io.BytesIO(bytes(text)), block_bytes=1 << 20))
    parse = _rate(lambda: [csvscan.parse_block(b, n_columns=3, pix=1, n_pixels=2304) for b in blocks],
                  len(text), repeat=3)
    figure("parse text -> uint8 (block parser)", parse / 1e6, "MB/s")
    sample_text = bytes(text[:16 << 20])
    for level in (6, 1):
        def deflate():
            z = zlib.compressobj(level, zlib.DEFLATED, -15)
            z.compress(sample_text)
            z.flush()
        note = "the level of fercsv's .csv.gz (byte-identical output needs it)" if level == 6 else ""
        figure(f"gzip level {level}", _rate(deflate, len(sample_text), repeat=2) / 1e6, "MB/s", note=note)
    target = work / "write-probe.bin"

    def write(sync):
        with open(target, "wb") as fh:
            for _ in range(8):
                fh.write(sample_text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    figure("write file (page cache)", _rate(lambda: write(False), 8 * len(sample_text), repeat=3) / 1e6, "MB/s")
    figure("write file + fsync (the disk)", _rate(lambda: write(True), 8 * len(sample_text), repeat=2) / 1e6,
           "MB/s")
    target.unlink()

    def read_all():
        with open(csv_path, "rb", buffering=0) as fh:
            while fh.read(16 << 20):
                pass
    size = csv_path.stat().st_size
    figure("read CSV sequentially", _rate(read_all, size, repeat=3) / 1e6, "MB/s")
    cores = default_workers()
    per_image = 1 / read_rate + 1 / jpeg_rate + text_len / sample / fmt
    figure(f"ceiling of convert on {cores} cores", cores / per_image, "images/s",
           note="read + decode + format per image, spread over the cores")
    return cores / per_image


def bench_convert(folder, work, repeat, workers, naive):
    print("-- folder -> CSV")
    outs = {"naive": work / "naive.csv", "naive-tolist": work / "naive-tolist.csv", "fercsv": work / "fast.csv"}
    ways = {"fercsv": (lambda: fercsv.folder_to_csv(folder, outs["fercsv"], workers=workers).rows, repeat)}
    if naive:
        ways["naive"] = (lambda: naive_convert(folder, outs["naive"]), max(1, repeat - 1))
        ways["naive-tolist"] = (lambda: naive_convert(folder, outs["naive-tolist"], tolist=True), max(1, repeat - 1))
    best = interleaved(ways, repeat, before=lambda name: outs[name].unlink(missing_ok=True))
    wall, cpu, rows = best["fercsv"]
    figure("convert fercsv", rows / wall, "images/s", note=f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    if naive:
        for name, label in (("naive", "naive (cv2, join numpy values)"), ("naive-tolist", "naive (cv2, join .tolist())")):
            n_wall, n_cpu, _ = best[name]
            same = outs[name].read_bytes() == outs["fercsv"].read_bytes()
            figure(f"convert {label}", rows / n_wall, "images/s", n_wall / wall,
                   note=f"{n_wall:.2f} s wall, {n_cpu:.2f} s CPU; same bytes as fercsv: {same}",
                   versus="this")
    return outs["fercsv"]


def bench_read(csv, repeat, workers, naive):
    print(f"-- read_csv of {csv.stat().st_size / 1e6:.0f} MB")
    ways = {"fercsv": (lambda: fercsv.read_csv(csv, workers=workers), repeat)}
    if naive:
        ways["naive"] = (lambda: naive_read(csv), max(1, repeat - 1))
    best = interleaved(ways, repeat)
    wall, cpu, ds = best["fercsv"]
    size = csv.stat().st_size / 1e6
    figure("read_csv fercsv", size / wall, "MB/s", note=f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    if naive:
        n_wall, n_cpu, (xn, _, _) = best["naive"]
        figure("read_csv naive (per-row split)", size / n_wall, "MB/s", n_wall / wall,
               note=f"{n_wall:.2f} s wall, {n_cpu:.2f} s CPU; same arrays: {np.array_equal(xn, ds.images)}",
               versus="this")
    return ds


def bench_write(ds, work, repeat, workers, naive):
    print("-- write_csv")
    ways = {"fercsv": (lambda: fercsv.write_csv(ds, work / "fw.csv", workers=workers), repeat)}
    if naive:
        ways["naive"] = (lambda: naive_write(ds, work / "nw.csv"), 1)
    best = interleaved(ways, repeat)
    wall, cpu, _ = best["fercsv"]
    figure("write_csv fercsv", len(ds) / wall, "rows/s", note=f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    if naive:
        n_wall, _, _ = best["naive"]
        same = (work / "nw.csv").read_bytes() == (work / "fw.csv").read_bytes()
        figure("write_csv naive (per-row join)", len(ds) / n_wall, "rows/s", n_wall / wall,
               note=f"{n_wall:.2f} s; same bytes: {same}", versus="this")


_MEMORY_PROBE = """
import gc, resource, sys, fercsv
kind, src, small, out = sys.argv[1:]
if kind == "read":
    fercsv.read_csv(small)  # imports and the 32 MB decode table, made once per process
else:
    fercsv.folder_to_csv(small, out + ".warm.csv")
gc.collect()


def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))


base = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as fh:  # restart the high-water mark (Linux >= 4.0)
    fh.write("5")
result = fercsv.read_csv(src) if kind == "read" else fercsv.folder_to_csv(src, out)
peak = status("VmHWM:")
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
size = result.images.nbytes + result.labels.nbytes + result.usage.nbytes if kind == "read" else 0
print((peak - base) * 1024, child * 1024, size)
"""


def bench_memory(folder, csv, work):
    """Peak memory of read_csv and of convert, each in a fresh process (ru_maxrss)."""
    import subprocess

    print("-- memory (fresh process each; peak resident memory above the resident memory before the call)")
    small = work / "small.csv"
    with open(csv, "rb") as fh:
        small.write_bytes(b"".join(fh.readline() for _ in range(3)))
    tiny = work / "tiny"
    fercsv.csv_to_folder(small, tiny)

    def probe(kind, src):
        out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, kind, str(src), str(small if kind == "read" else tiny),
                              str(work / "mem-out.csv")], capture_output=True, text=True, check=True)
        return [int(v) for v in out.stdout.split()]
    grown, _, arrays = probe("read", csv)
    figure("read_csv peak memory", grown / 1e6, "MB", note=f"{grown / arrays:.2f}x the arrays it returns "
                                                           f"({arrays / 1e6:.0f} MB)")
    grown, child, _ = probe("convert", folder)
    figure("convert peak memory, main process", grown / 1e6, "MB", note=f"largest worker process {child / 1e6:.0f} MB "
                                                                       "(in all, shared pages counted in each)")


def main():
    work = Path(tempfile.mkdtemp(prefix="fercsv-bench-"))
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # about 1.6 GB of CSVs and PNGs


def run(work):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeat", type=int, default=3, help="rounds per way (naive ways: one fewer)")
    ap.add_argument("--workers", type=int, default=None, help="fercsv's workers (default: all cores)")
    ap.add_argument("--no-naive", dest="naive", action="store_false", help="only fercsv and the limits")
    ap.add_argument("--only", default="convert,limits,read,memory,write",
                    help="comma-separated sections to run: convert, limits, read, memory, write")
    args = ap.parse_args()
    only = set(args.only.split(","))
    folder = fer_folder(args.data)
    if folder is None:
        print("FER-2013 not found: generating 35,887 random 48x48 images")
        rng = np.random.default_rng(0)
        ds = fercsv.FERDataset.from_arrays(rng.integers(0, 256, (35887, 48, 48), dtype=np.uint8),
                                           rng.integers(0, 7, 35887))
        folder = work / "folder"
        fercsv.csv_to_folder(ds, folder)
    print(f"data: {folder}; cores: {os.cpu_count()}; fercsv {fercsv.__version__} from {Path(fercsv.__file__).parent}")
    if "convert" in only:
        csv = bench_convert(folder, work, args.repeat, args.workers, args.naive)
    else:
        csv = work / "fast.csv"
        fercsv.folder_to_csv(folder, csv)
    if "limits" in only:
        limits(folder, csv, work)
    if "read" in only:
        ds = bench_read(csv, args.repeat, args.workers, args.naive)
    if "memory" in only:
        bench_memory(folder, csv, work)
    if "write" in only:
        ds = fercsv.read_csv(csv)
        bench_write(ds, work, args.repeat, args.workers, args.naive)
        t0 = time.perf_counter()
        fercsv.csv_to_folder(csv, work / "back", workers=args.workers)
        figure("convert CSV->folder fercsv (PNG)", len(ds) / (time.perf_counter() - t0), "images/s")


if __name__ == "__main__":
    main()
