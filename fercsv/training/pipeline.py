"""tf.data input pipelines: uint8 images stay in memory, scaled and augmented on the fly.

Training order is a pure function of (seed, epoch), so a resumed run sees the
same batches an uninterrupted run would have seen from that epoch on.
"""
import numpy as np

from ..core.parallel import default_workers
from ..runtime.contract import INPUT_SCALE
from ..runtime.tfutil import import_tf

#: Batches each pipeline keeps ready ahead of the model.
PREFETCH = 2


def _untuned(tf, ds):
    """``ds`` with tf.data's autotuning off: fixed parallelism, and no wait when an iterator ends.

    With autotuning on, deleting an iterator (Keras does at the end of every ``fit``, and
    of every epoch for numpy input) blocks until the tuner's next wake-up, whose interval
    doubles from 10 ms up to 60 s: a fit whose last step ended at 6.3 s returned at 10.2 s,
    with the cores idle (measured; ``benchmarks/RESULTS.md``). Parallelism is set by hand
    instead (one map call per core, :data:`PREFETCH` batches ahead); the pipeline runs
    40-60x faster than the model trains, so there is nothing to tune.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def augmenter(*, seed=0, flip=True, rotation=10.0, zoom=0.1, shift=0.1, brightness=0.2, contrast=0.2,
              erasing=0.0):
    """Keras preprocessing layers for face augmentation (applied in the pipeline, not the model).

    ``rotation`` is in degrees; ``zoom``, ``shift``, ``brightness`` and
    ``contrast`` are fractions; ``erasing`` is the probability of blanking a
    random rectangle (2-33 % of the face) with noise, as in random erasing.
    """
    tf, keras = import_tf()
    L = keras.layers
    layers = []
    if flip:
        layers.append(L.RandomFlip("horizontal", seed=seed))
    if rotation:
        layers.append(L.RandomRotation(rotation / 360.0, fill_mode="reflect", seed=seed + 1))
    if zoom:
        layers.append(L.RandomZoom(zoom, zoom, fill_mode="reflect", seed=seed + 2))
    if shift:
        layers.append(L.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed + 3))
    if brightness:
        layers.append(L.RandomBrightness(brightness, value_range=(0.0, 1.0), seed=seed + 4))
    if contrast:
        layers.append(L.RandomContrast(contrast, seed=seed + 5))
    if erasing:
        layers.append(L.RandomErasing(factor=erasing, value_range=(0.0, 1.0), seed=seed + 6))
    return keras.Sequential(layers, name="augment")


def _scale(tf, images):
    # The model input contract of fercsv.runtime.contract.to_input, in the graph.
    return tf.cast(images, tf.float32) / INPUT_SCALE


def global_batch(n, batch_size, parts=1):
    """The batch size an epoch of ``n`` images really uses: at most ``n``, a multiple of ``parts``.

    >>> global_batch(1000, 64), global_batch(50, 64), global_batch(50, 64, parts=4)
    (64, 50, 48)
    """
    return max(parts, min(batch_size, n) // parts * parts)


def train_dataset(images, labels, *, batch_size=128, seed=0, first_epoch=0, epochs=1, augment=True,
                  aug_options=None, n_classes=None, mixup=0.0, part=(0, 1), class_weight=None):
    """Batches for epochs ``first_epoch .. epochs - 1`` and the steps per epoch.

    Each epoch is a fresh permutation derived statelessly from ``(seed, epoch)``;
    the last partial batch of an epoch is dropped so epochs stay aligned.
    ``labels`` are class codes (N,) or soft targets (N, classes). With
    ``n_classes`` the targets come out one-hot (soft targets as they are); with
    ``mixup`` (Beta alpha, 0: off, needs ``n_classes``) each batch is blended with
    itself reversed, images and targets alike, by a weight drawn per batch.

    ``part=(k, parts)`` yields only share ``k`` of each global batch of ``batch_size``
    (its k-th slice of ``batch_size // parts`` images): with the same seed on every
    worker, the shares of all workers make up exactly the one-machine batches, and
    each worker reads and augments only its own. ``class_weight`` (a weight per class,
    as Keras' ``{class: weight}`` or a sequence; class-code labels only) adds a third
    element, the per-image loss weight.
    """
    tf, _ = import_tf()
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    n = len(images)
    k, parts = part
    batch_size = global_batch(n, batch_size, parts)
    share = batch_size // parts
    x = tf.constant(images)
    labels = np.asarray(labels)
    y = tf.constant(labels.astype(np.float32 if labels.ndim == 2 else np.int64))
    seed_t = tf.constant(seed, tf.int64)

    def one_epoch(epoch):
        perm = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                        seed=tf.stack([seed_t, epoch]))
        batches = tf.data.Dataset.from_tensor_slices(perm).batch(batch_size, drop_remainder=True)
        return batches if parts == 1 else batches.map(lambda idx: idx[k * share:(k + 1) * share])

    calls = default_workers()  # map calls in flight: one per core
    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1)).flat_map(one_epoch)
    ds = ds.map(lambda idx: (_scale(tf, tf.gather(x, idx)), tf.gather(y, idx)),
                num_parallel_calls=calls)
    if augment:
        aug = augmenter(seed=seed, **(aug_options or {}))
        ds = ds.map(lambda a, b: (tf.clip_by_value(aug(a, training=True), 0.0, 1.0), b),
                    num_parallel_calls=calls)
    if class_weight is not None:
        if labels.ndim != 1:
            raise ValueError("class_weight needs class-code labels, not soft targets")
        if isinstance(class_weight, dict):  # Keras' form: {class: weight}
            class_weight = [class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)]
        w = tf.constant(np.asarray(class_weight, np.float32))
        ds = ds.map(lambda a, b: (a, b, tf.gather(w, b)))
    if n_classes and labels.ndim == 1:
        ds = ds.map(lambda a, b, *w: (a, tf.one_hot(b, n_classes), *w))
    steps = n // batch_size
    if mixup:
        if not n_classes:
            raise ValueError("mixup needs n_classes (targets must be one-hot or soft)")
        ds = ds.enumerate(start=first_epoch * steps).map(
            lambda i, ab: (*_mixup(tf, ab[0], ab[1], alpha=mixup, seed=tf.stack([seed_t, i])), *ab[2:]),
            num_parallel_calls=calls)
    return _untuned(tf, ds.prefetch(PREFETCH)), steps


def _mixup(tf, images, targets, *, alpha, seed):
    """Blend a batch with its reverse: weight ~ Beta(alpha, alpha), kept >= 0.5 so each row stays itself."""
    g1 = tf.random.stateless_gamma([], seed=seed, alpha=alpha)
    g2 = tf.random.stateless_gamma([], seed=seed + 1, alpha=alpha)
    lam = g1 / (g1 + g2)
    lam = tf.maximum(lam, 1.0 - lam)
    w = tf.cast(lam, images.dtype)  # augmentation may run in the mixed-precision compute dtype
    mixed = w * images + (1 - w) * tf.reverse(images, [0])
    lam = tf.cast(lam, targets.dtype)
    return mixed, lam * targets + (1 - lam) * tf.reverse(targets, [0])


def eval_dataset(images, labels=None, *, batch_size=256):
    """Batches of scaled images (and labels when given), in order, for predict/evaluate."""
    tf, _ = import_tf()
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    parts = (images,) if labels is None else (images, np.asarray(labels, np.int64))
    ds = tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0])
    ds = ds.batch(batch_size)
    if labels is None:
        ds = ds.map(lambda a: _scale(tf, a))
    else:
        ds = ds.map(lambda a, b: (_scale(tf, a), b))
    return _untuned(tf, ds.prefetch(PREFETCH))
