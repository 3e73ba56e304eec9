"""tf.data input pipelines: uint8 images stay in memory, scaled and augmented on the fly.

Training order is a pure function of (seed, epoch), so a resumed run sees the
same batches an uninterrupted run would have seen from that epoch on.
"""
import numpy as np

from .runtimes import INPUT_SCALE
from .tfutil import import_tf


def augmenter(*, seed=0, flip=True, rotation=10.0, zoom=0.1, shift=0.1, brightness=0.2, contrast=0.2):
    """Keras preprocessing layers for face augmentation (applied in the pipeline, not the model).

    ``rotation`` is in degrees; ``zoom``, ``shift``, ``brightness`` and
    ``contrast`` are fractions.
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
    return keras.Sequential(layers, name="augment")


def _scale(tf, images):
    # The model input contract of fercsv.runtimes.to_input, in the graph.
    return tf.cast(images, tf.float32) / INPUT_SCALE


def train_dataset(images, labels, *, batch_size=128, seed=0, first_epoch=0, epochs=1, augment=True,
                  aug_options=None):
    """Batches for epochs ``first_epoch .. epochs - 1`` and the steps per epoch.

    Each epoch is a fresh permutation derived statelessly from ``(seed, epoch)``;
    the last partial batch of an epoch is dropped so epochs stay aligned.
    ``labels`` are class codes (N,) or soft targets (N, classes).
    """
    tf, _ = import_tf()
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    n = len(images)
    batch_size = min(batch_size, n)
    x = tf.constant(images)
    labels = np.asarray(labels)
    y = tf.constant(labels.astype(np.float32 if labels.ndim == 2 else np.int64))
    seed_t = tf.constant(seed, tf.int64)

    def one_epoch(epoch):
        perm = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                        seed=tf.stack([seed_t, epoch]))
        return tf.data.Dataset.from_tensor_slices(perm).batch(batch_size, drop_remainder=True)

    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1)).flat_map(one_epoch)
    ds = ds.map(lambda idx: (_scale(tf, tf.gather(x, idx)), tf.gather(y, idx)),
                num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        aug = augmenter(seed=seed, **(aug_options or {}))
        ds = ds.map(lambda a, b: (tf.clip_by_value(aug(a, training=True), 0.0, 1.0), b),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), n // batch_size


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
    return ds.prefetch(tf.data.AUTOTUNE)
