"""Training throughput into fit: fercsv's input pipeline and trainer settings against the tutorials' way.

Each way is one whole ``fit`` of a few epochs with a validation pass per epoch, as a user runs it:

(a) float32 Keras fit fed from in-memory numpy arrays, no augmentation: the tutorials' way (the naive way);
(b) fercsv's tf.data pipeline (augmented on the fly) with tf.data's tuner on, as it was before, float32,
    the trainer's steps per call;
(c) fercsv now: the same pipeline with the tuner off (fixed parallelism), and batch normalisation
    trained as one fused op (``training.fusedbn``), as the trainer does; float32;
(d) the same in the trainer's ``--precision auto`` (bfloat16 on CPUs with AMX or AVX-512-BF16);
(e) (d)'s own batches computed beforehand and cached: the model with no input work at all;
    the input's share of the step time is 1 - (d)/(e) (at or below zero: the model never waits);
(f) the pipeline alone, images/s without a model.
The ways run in turn, round after round, so a load change hits them alike; medians against (a).
The ``limits`` section measures the machine's matrix-multiply peak in float32 and bfloat16 in the
same run and says how close each way's training arithmetic comes to it.

Usage: python benchmarks/bench_train.py [--data PATH] [--steps 48] [--epochs 2] [--rounds 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder, figure  # noqa: E402


def faces_for_bench(data, n_train, n_val):
    import fercsv

    folder = fer_folder(data)
    if folder is not None:
        train = fercsv.read_folder(Path(folder) / "train", keep_paths=False)
        test = fercsv.read_folder(Path(folder) / "test", keep_paths=False)
        what = f"FER-2013: {n_train} Training faces, {n_val} test faces for validation"
    else:
        train = test = fercsv.synth_dataset(per_class=(n_train + n_val) // 7 + 1)
        what = f"synthetic faces ({n_train} + {n_val})"
    rng = np.random.default_rng(0)
    t, v = rng.permutation(len(train))[:n_train], rng.permutation(len(test))[-n_val:]
    return (train.images[t], train.labels[t]), (test.images[v], test.labels[v]), what


def compiled(keras, build_model, policy, *, per_call=1, fused=False):
    from fercsv.training.fusedbn import fuse_batch_norm

    keras.mixed_precision.set_global_policy(policy)
    net = build_model("fercnn")
    if fused:
        fuse_batch_norm(net)
    net.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"],
                steps_per_execution=per_call)
    keras.mixed_precision.set_global_policy("float32")
    return net


def training_flops(net):
    """Floating-point operations to train on one image: 3x the forward pass (forward, two backward)."""
    macs = 0
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            h, w, cout = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            macs += h * w * kh * kw * layer.input.shape[-1] * cout
        elif kind == "Dense":
            macs += layer.input.shape[-1] * layer.units
    return 3 * 2 * macs


def matmul_peak(tf, dtype, n=2048, reps=8):
    """GFLOP/s of a large matrix product in ``dtype`` on all cores: what the CPU's arithmetic can do."""
    a = tf.cast(tf.random.stateless_uniform((n, n), seed=(1, 2)), dtype)
    f = tf.function(lambda: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, a)[:1, :1], tf.float32)))
    f()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n ** 3 / best / 1e9


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
    ap.add_argument("--data", default=None, help="FER-2013 folder or archive (default: $FERCSV_DATA, "
                    "../shared/data; synthetic faces when none is found)")
    ap.add_argument("--steps", type=int, default=48, help="steps per epoch (a multiple of 16)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per timed fit")
    ap.add_argument("--val", type=int, default=1024, help="validation faces scored after each epoch")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="fits per way, taken in turn (the median is shown)")
    args = ap.parse_args()
    from fercsv.runtime.tfutil import import_tf, pick_precision
    from fercsv.training.models import build_model
    from fercsv.training.pipeline import eval_dataset, train_dataset
    from fercsv.training.trainer import steps_per_execution

    tf, keras = import_tf()
    bs, steps, epochs = args.batch_size, args.steps, args.epochs
    n = steps * bs
    (images, labels), (val_images, val_labels), what = faces_for_bench(args.data, n, args.val)
    per_call = steps_per_execution(steps)
    auto = pick_precision("auto", "cpu")
    print(f"data: {what}; batch {bs}; each way: fit {epochs} epochs of {steps} steps + a validation pass "
          f"per epoch, {args.rounds} rounds in turn; steps per call {per_call}; precision auto = {auto}")
    x = images.astype(np.float32)[..., None] / 255.0
    xv = val_images.astype(np.float32)[..., None] / 255.0

    data, _ = train_dataset(images, labels, batch_size=bs, epochs=100_000)
    val = eval_dataset(val_images, val_labels)
    tuned = tf.data.Options()
    tuned.autotune.enabled = True  # the pipeline as it was before: tf.data's tuner on
    data_tuned, val_tuned = data.with_options(tuned), val.with_options(tuned)
    cached = data.take(steps).cache()
    for _ in cached:  # (e)'s batches are computed once, before any clock starts
        pass
    cached = cached.repeat()

    naive = compiled(keras, build_model, "float32")
    before = compiled(keras, build_model, "float32", per_call=per_call)
    now32, now, free = (compiled(keras, build_model, p, per_call=per_call, fused=True) for p in ("float32", auto, auto))
    ways = {
        "(a) fit from numpy arrays, float32 (naive)":
            lambda e: naive.fit(x, labels, batch_size=bs, epochs=e, validation_data=(xv, val_labels), verbose=0),
        f"(b) fercsv pipeline before: tuner on, {per_call} steps per call, float32":
            lambda e: before.fit(data_tuned, epochs=e, steps_per_epoch=steps, validation_data=val_tuned, verbose=0),
        f"(c) fercsv now: tuner off, fused batch norm, {per_call} steps per call, float32":
            lambda e: now32.fit(data, epochs=e, steps_per_epoch=steps, validation_data=val, verbose=0),
        f"(d) fercsv now, precision auto ({auto})":
            lambda e: now.fit(data, epochs=e, steps_per_epoch=steps, validation_data=val, verbose=0),
        f"(e) (d)'s batches precomputed (no input work)":
            lambda e: free.fit(cached, epochs=e, steps_per_epoch=steps, validation_data=val, verbose=0),
    }
    for fit in ways.values():  # trace and warm up every way before timing any
        fit(1)
    rates = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, fit in ways.items():
            t = time.perf_counter()
            fit(epochs)
            rates[name].append(n * epochs / (time.perf_counter() - t))
    med = {name: float(np.median(r)) for name, r in rates.items()}
    names = list(ways)
    base = med[names[0]]
    for name, value in med.items():
        spread = f"rounds {min(rates[name]):.0f}-{max(rates[name]):.0f}"
        figure(name, value, "images/s", None if name == names[0] else value / base, note=spread)
    share = 1 - med[names[3]] / med[names[4]]
    print(f"input's share of step time: {share:+.1%} (at or below zero: the model never waits on input)")
    pipe = pipeline_rate(train_dataset(images, labels, batch_size=bs, epochs=100)[0], bs)
    figure("(f) input pipeline alone (augmented)", pipe, "images/s",
           note=f"{pipe / med[names[3]]:.0f}x the model's training throughput")

    print("-- limits (same run): the model's training arithmetic against the CPU's matrix-multiply peak")
    flops = training_flops(naive)
    peaks = {"float32": matmul_peak(tf, tf.float32), "bfloat16": matmul_peak(tf, tf.bfloat16)}
    for dtype, peak in peaks.items():
        figure(f"matrix multiply, {dtype}, all cores", peak, "GFLOP/s")
    print(f"fercnn: {flops / 1e9:.2f} GFLOP to train on one face (3x the forward pass)")
    for name, policy in ((names[0], "float32"), (names[2], "float32"), (names[3], auto)):
        dtype = "bfloat16" if "bfloat16" in policy else "float32"
        achieved = med[name] * flops / 1e9
        figure(f"{name[:3]} training arithmetic", achieved, "GFLOP/s",
               note=f"{achieved / peaks[dtype]:.0%} of the {dtype} matrix-multiply peak")


if __name__ == "__main__":
    main()
