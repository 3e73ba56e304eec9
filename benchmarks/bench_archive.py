"""Converting FER-2013 straight from its archive (.tar.gz, .zip, .tar) against converting the
extracted folder, in the same run.

Usage: python benchmarks/bench_archive.py [--data PATH] [--repeat N] [--workers N]
PATH (or $FERCSV_DATA) is the FER-2013 folder or ../shared/data/fer2013-images.tar.gz; without it,
35,887 random 48x48 JPEGs are generated. The goal: each archive at >= 0.8x the folder's speed. Best of --repeat interleaved rounds.
"""
import argparse
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, fer_folder, figure  # noqa: E402

import fercsv  # noqa: E402


def random_folder(root, n=35887):
    rng = np.random.default_rng(0)
    labels = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    for i in range(n):
        path = root / "train" / labels[i % 7] / f"Training_{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return root


def pack(folder, work):
    """The folder as .tar.gz, .zip and .tar (top folder ``fer2013/``, as the shared archive)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    out = {}
    for kind, mode in (("tar.gz", "w:gz"), ("tar", "w")):
        out[kind] = work / f"fer2013.{kind}"
        with tarfile.open(out[kind], mode) as t:
            t.add(folder, arcname="fer2013")
    out["zip"] = work / "fer2013.zip"
    with zipfile.ZipFile(out["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            z.write(p, "fer2013/" + p.relative_to(folder).as_posix())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fercsv-bench-archive-"))
    folder = fer_folder(args.data)
    if folder is None:
        print("FER-2013 not found: generating 35,887 random 48x48 JPEGs")
        folder = random_folder(work / "random")
    archives = pack(folder, work)
    shipped = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013-images.tar.gz"
    if args.data is None and shipped.is_file():
        archives["tar.gz"] = shipped  # the real download, as a user has it
    # Rounds interleave the folder and the archives, so a busy machine slows every contender alike.
    sources = {"folder": folder, **archives}
    best = {name: float("inf") for name in sources}
    cpu = dict(best)
    rows = {}
    for _ in range(args.repeat):
        for name, path in sources.items():
            c = time.process_time()
            t, report = best_of(lambda: fercsv.convert(path, work / f"{name}.csv", workers=args.workers), 1)
            cpu[name] = min(cpu[name], time.process_time() - c)
            best[name], rows[name] = min(best[name], t), report.rows
    figure("folder -> CSV", rows["folder"] / best["folder"], "images/s")
    reference = (work / "folder.csv").read_bytes()
    for name in archives:
        same = (work / f"{name}.csv").read_bytes() == reference
        figure(f"{name} archive -> CSV", rows[name] / best[name], "images/s", ratio=best["folder"] / best[name],
               versus="folder", note=("same CSV bytes" if same else "CSV DIFFERS") +
               f"; CPU time {cpu[name]:.1f} s vs {cpu['folder']:.1f} s for the folder")

if __name__ == "__main__":
    main()
