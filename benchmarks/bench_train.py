"""Training throughput into fit: fercsv's input pipeline and trainer settings against the tutorials' way.

(a) float32 Keras fit fed from in-memory numpy arrays, the tutorials' way (the naive way);
(b) fercsv's tf.data pipeline (uint8 in memory, scaled and augmented on the fly, batch-vectorised),
    one step per call into TensorFlow (Keras' default, what fercsv did before);
(c) the same with the trainer's steps per call (fercsv's default now);
(d) (c)'s own batches computed beforehand and cached: the model with no input work at all;
    the input's share of step time is 1 - (c)/(d) (at or below zero: the model never waits);
(e) the pipeline alone, images/s without a model.
The ways run in turn, slice after slice, so a load change hits them alike; medians against (a).

Usage: python benchmarks/bench_train.py [--data PATH] [--steps 32] [--rounds 5] [--precision auto]
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


def compiled(keras, build_model, *, per_call=1):
    net = build_model("fercnn")
    net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy", steps_per_execution=per_call)
    return net


def timed(fit, images):
    """images/s of one call of ``fit`` (which trains on ``images`` images)."""
    t = time.perf_counter()
    fit()
    return images / (time.perf_counter() - t)


def pipeline_rate(data, batch, n=200):
    it = iter(data)
    for _ in range(5):
        next(it)
    t = time.perf_counter()
    for _ in range(n):
        next(it)
    return n * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=32, help="steps per timed slice (a multiple of 16)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5, help="slices per way, taken in turn (the median is shown)")
    ap.add_argument("--precision", default="auto", help="auto (the trainer's default), float32 or bfloat16")
    args = ap.parse_args()
    from fercsv.runtime.tfutil import import_tf, pick_precision
    from fercsv.training.models import build_model
    from fercsv.training.pipeline import train_dataset
    from fercsv.training.trainer import steps_per_execution

    tf, keras = import_tf()
    images, labels, what = images_for_bench(args.data)
    bs, steps = args.batch_size, args.steps
    per_call = steps_per_execution(len(images) // bs)
    precision = pick_precision(args.precision, "cpu")
    print(f"data: {what}; batch {bs}; {args.rounds} slices of {steps} steps per way, in turn; {precision}; "
          f"the trainer's steps per call: {per_call} (largest divisor of {len(images) // bs} up to 16)")
    n = steps * bs
    keras.mixed_precision.set_global_policy("float32")
    x = images[:n].astype(np.float32)[..., None] / 255.0
    y = labels[:n]
    naive = compiled(keras, build_model)
    keras.mixed_precision.set_global_policy(precision)
    data, _ = train_dataset(images, labels, batch_size=bs, epochs=1000)
    cached = data.take(steps).cache()
    for _ in cached:  # (d)'s batches are computed once, before any clock starts
        pass
    cached = cached.repeat()
    one, fused, free = (compiled(keras, build_model, per_call=k) for k in (1, per_call, per_call))
    ways = {
        "fit from numpy arrays, float32 (naive)": lambda: naive.fit(x, y, batch_size=bs, verbose=0, shuffle=True),
        "fercsv pipeline, 1 step per call": lambda: one.fit(data, steps_per_epoch=steps, verbose=0),
        f"fercsv pipeline, {per_call} steps per call (default)":
            lambda: fused.fit(data, steps_per_epoch=steps, verbose=0),
        "the same batches precomputed (no input work)": lambda: free.fit(cached, steps_per_epoch=steps, verbose=0),
    }
    for fit in ways.values():  # trace and warm up every way before timing any
        fit()
    rates = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, fit in ways.items():
            rates[name].append(timed(fit, n))
    med = {name: float(np.median(r)) for name, r in rates.items()}
    base = med[next(iter(ways))]
    for name, value in med.items():
        spread = f"slices {min(rates[name]):.0f}-{max(rates[name]):.0f}"
        figure(name, value, "images/s", None if value is base else value / base, note=spread)
    names = list(ways)
    share = 1 - med[names[2]] / med[names[3]]
    print(f"input's share of step time: {share:+.1%} (at or below zero: the model never waits on input)")
    keras.mixed_precision.set_global_policy("float32")
    pipe = pipeline_rate(train_dataset(images, labels, batch_size=bs, epochs=3)[0], bs)
    figure("input pipeline alone (augmented)", pipe, "images/s",
           note=f"{pipe / med[names[2]]:.0f}x the model's training throughput")


if __name__ == "__main__":
    main()
