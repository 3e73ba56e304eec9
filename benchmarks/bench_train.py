"""Training throughput into fit: fercsv's input pipeline and trainer settings against the tutorials' way.

(a) float32 Keras fit fed from in-memory numpy arrays, the tutorials' way (the naive way);
(b) fercsv's tf.data pipeline (uint8 in memory, scaled and augmented on the fly, batch-vectorised),
    one step per call into TensorFlow (Keras' default, what fercsv did before);
(c) the same with the trainer's steps per call (fercsv's default now);
(d) (c)'s own batches computed beforehand and cached: the model with no input work at all;
    the input's share of step time is 1 - (c)/(d) (at or below zero: the model never waits);
(e) the pipeline alone, images/s without a model.
Every figure is measured in the same run, round after round, and reported against (a).

Usage: python benchmarks/bench_train.py [--data PATH] [--steps 48] [--rounds 2] [--precision auto]
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


def model_rate(keras, build_model, data, steps, batch, *, per_call):
    """images/s of fit on ``data`` for ``steps`` steps, after a warm-up of the same shape."""
    net = build_model("fercnn")
    net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy", steps_per_execution=per_call)
    net.fit(data, steps_per_epoch=2 * per_call, epochs=1, verbose=0)  # trace and warm up
    t = time.perf_counter()
    net.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - t)


def numpy_rate(keras, build_model, images, labels, steps, batch):
    """The tutorials' way: float32 arrays in memory, model.fit(x, y)."""
    x = images[: batch * steps].astype(np.float32)[..., None] / 255.0
    y = labels[: batch * steps]
    net = build_model("fercnn")
    net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy")
    net.fit(x[: batch * 3], y[: batch * 3], batch_size=batch, verbose=0)
    t = time.perf_counter()
    net.fit(x, y, batch_size=batch, verbose=0, shuffle=True)
    return len(x) / (time.perf_counter() - t)


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
    ap.add_argument("--steps", type=int, default=48, help="timed steps per figure (a multiple of 16)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
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
    print(f"data: {what}; batch {bs}; {steps} timed steps; {precision}; the trainer's steps per call: "
          f"{per_call} (largest divisor of {len(images) // bs} steps per epoch up to 16)")
    for r in range(1, args.rounds + 1):
        keras.mixed_precision.set_global_policy("float32")
        naive = numpy_rate(keras, build_model, images, labels, steps, bs)
        figure(f"round {r}: fit from numpy arrays, float32 (naive)", naive, "images/s")
        keras.mixed_precision.set_global_policy(precision)
        data, _ = train_dataset(images, labels, batch_size=bs, epochs=50)
        one = model_rate(keras, build_model, data, steps, bs, per_call=1)
        figure(f"round {r}: fercsv pipeline, 1 step per call", one, "images/s", one / naive)
        fused = model_rate(keras, build_model, data, steps, bs, per_call=per_call)
        figure(f"round {r}: fercsv pipeline, {per_call} steps per call (default)", fused, "images/s",
               fused / naive)
        cached = data.take(steps).cache()
        for _ in cached:  # computed once, before the clock starts
            pass
        free = model_rate(keras, build_model, cached.repeat(), steps, bs, per_call=per_call)
        figure(f"round {r}: the same batches precomputed (no input work)", free, "images/s", free / naive)
        print(f"round {r}: input's share of step time: {1 - fused / free:+.1%} "
              "(at or below zero: the model never waits on input)")
        keras.mixed_precision.set_global_policy("float32")
        pipe = pipeline_rate(train_dataset(images, labels, batch_size=bs, epochs=3)[0], bs)
        figure(f"round {r}: input pipeline alone (augmented)", pipe, "images/s",
               note=f"{pipe / fused:.0f}x the model's training throughput")


if __name__ == "__main__":
    main()
