"""Training throughput of the default model on this machine, and the input pipeline alone.

(a) float32 Keras fit fed from in-memory numpy arrays, the tutorials' way;
(b) fercsv's tf.data pipeline (uint8 in memory, scaled and augmented on the fly)
    with the default precision (and bfloat16, for the record);
(c) the pipeline alone, batches/s without a model: it must outrun (b) by 20x or more.

Usage: python benchmarks/bench_train.py [--data PATH] [--steps 40]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder, figure  # noqa: E402


def images_for_bench(data):
    import fercsv

    folder = fer_folder(data)
    if folder is not None:
        ds = fercsv.read_folder(Path(folder) / "train", keep_paths=False)
        return ds.images, ds.labels, f"FER-2013 Training ({len(ds)})"
    ds = fercsv.synth_dataset(per_class=300)
    return ds.images, ds.labels, f"synthetic ({len(ds)})"


def fit_rate(model, data, steps, batch):
    model.fit(data.take(3) if hasattr(data, "take") else data, verbose=0)
    t = time.perf_counter()
    model.fit(data.take(steps), verbose=0)
    return steps * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    from fercsv.training.models import build_model
    from fercsv.training.pipeline import train_dataset
    from fercsv.runtime.tfutil import import_tf, pick_precision

    tf, keras = import_tf()
    images, labels, what = images_for_bench(args.data)
    bs, steps = args.batch_size, args.steps
    print(f"data: {what}; batch {bs}; {steps} timed steps")

    # (a) the tutorials' way: float32 arrays in memory, model.fit(x, y)
    keras.mixed_precision.set_global_policy("float32")
    x = images[: bs * steps].astype(np.float32)[..., None] / 255.0
    y = labels[: bs * steps]
    net = build_model("fercnn")
    net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy")
    net.fit(x[: bs * 3], y[: bs * 3], batch_size=bs, verbose=0)
    t = time.perf_counter()
    net.fit(x, y, batch_size=bs, verbose=0, shuffle=True)
    naive = len(x) / (time.perf_counter() - t)
    figure("train float32 from numpy (naive)", naive, "images/s")

    # (b) fercsv's pipeline, default precision (auto) and bfloat16
    default = pick_precision("auto", "cpu")
    rates = {}
    for precision in dict.fromkeys([default, "mixed_bfloat16"]):
        keras.mixed_precision.set_global_policy(precision)
        data, _ = train_dataset(images, labels, batch_size=bs, epochs=2)
        net = build_model("fercnn")
        net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy")
        rates[precision] = fit_rate(net, data, steps, bs)
        figure(f"train fercsv pipeline {precision}", rates[precision], "images/s", rates[precision] / naive,
               note="(default)" if precision == default else "")
    keras.mixed_precision.set_global_policy("float32")

    # (c) the input pipeline alone, with augmentation
    data, per_epoch = train_dataset(images, labels, batch_size=bs, epochs=3)
    it = iter(data)
    for _ in range(5):
        next(it)
    n = min(200, per_epoch * 2)
    t = time.perf_counter()
    for _ in range(n):
        next(it)
    pipe = n * bs / (time.perf_counter() - t)
    figure("input pipeline alone (augmented)", pipe, "images/s", note=f"{pipe / rates[default]:.0f}x the "
           "model's training throughput (needs >= 20x)")


if __name__ == "__main__":
    main()
