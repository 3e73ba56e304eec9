"""Images/s of batch prediction into a face table: in-process vs a local two-worker Ray cluster.

Same photos, same model (the shipped fer2013 ONNX), same run. Photos are real faces: crops,
scales, mirror images and exposures of scikit-image's astronaut, 240 to 640 pixels, as JPEG.
Ray is timed twice: with the local cluster's start (what one ``fercsv predict --engine ray``
costs) and on a cluster already running (the sweep itself). The tables must be byte-identical.

Usage: nice -n 19 python benchmarks/bench_scale_predict.py [--images 300] [--workers 2]
"""
import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure  # noqa: E402


def write_photos(folder, n, seed=0):
    """``n`` JPEG variations of the astronaut photo (one face each, mostly) in ``folder``."""
    from skimage import data

    base = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        x0, y0 = rng.integers(0, 60, 2)
        side = int(rng.integers(380, 512 - max(x0, y0)))
        img = base[y0:y0 + side, x0:x0 + side]
        img = cv2.resize(img, (int(rng.integers(240, 641)),) * 2, interpolation=cv2.INTER_AREA)
        img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
        if i % 2:
            img = cv2.flip(img, 1)
        cv2.imwrite(str(folder / f"img{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def timed(func):
    t = time.perf_counter()
    result = func()
    return time.perf_counter() - t, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2, help="Ray workers (local cluster CPUs)")
    ap.add_argument("--batch-size", type=int, default=8, help="inputs per Ray task")
    args = ap.parse_args()
    import ray

    from fercsv.serve.engines import predict_table

    work = Path(tempfile.mkdtemp(prefix="fercsv-bench-scale-"))
    try:
        run(work, args, predict_table, ray)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work, args, predict_table, ray):
    photos = write_photos(work / "photos", args.images)
    n = args.images
    print(f"{n} photos (astronaut variations, 240-640 px) in {photos}; model: shipped fer2013 (ONNX)")

    local_s, report = timed(lambda: predict_table([photos], work / "local.parquet", out=None))
    print(f"faces found: {report.faces} in {report.predicted} photos")
    figure("in-process (local engine)", n / local_s, "images/s")

    ray_opts = {"engine": "ray", "workers": args.workers, "batch_size": args.batch_size, "out": None}
    cold_s, _ = timed(lambda: predict_table([photos], work / "ray_cold.parquet", **ray_opts))
    figure(f"ray, {args.workers} workers, with cluster start", n / cold_s, "images/s", ratio=local_s / cold_s,
           versus="in-process")
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        predict_table([photos], work / "ray_warmup.parquet", **ray_opts)  # workers' imports, first plan
        warm_s, _ = timed(lambda: predict_table([photos], work / "ray_warm.parquet", **ray_opts))
    finally:
        ray.shutdown()
    figure(f"ray, {args.workers} workers, cluster running", n / warm_s, "images/s", ratio=local_s / warm_s,
           versus="in-process")
    same = {(work / f).read_bytes() for f in ("local.parquet", "ray_cold.parquet", "ray_warm.parquet")}
    print(f"tables byte-identical: {len(same) == 1}")


if __name__ == "__main__":
    main()
