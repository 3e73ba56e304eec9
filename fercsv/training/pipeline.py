"""tf.data input pipelines: uint8 images stay in memory, scaled and augmented on the fly.

Each training batch is a pure function of (seed, batch number): the order comes
from (seed, epoch), and the augmentation of batch ``i`` from (seed, i). So the
same seed gives the same batches on every run, and a resumed run sees the
batches an uninterrupted run would have seen from that epoch on.
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
    The layers compute in float32 whatever the global precision policy: the
    model casts its input itself.
    """
    tf, keras = import_tf()
    L = keras.layers
    layers = []
    if flip:
        layers.append(L.RandomFlip("horizontal", seed=seed, dtype="float32"))
    if rotation:
        layers.append(L.RandomRotation(rotation / 360.0, fill_mode="reflect", seed=seed + 1, dtype="float32"))
    if zoom:
        layers.append(L.RandomZoom(zoom, zoom, fill_mode="reflect", seed=seed + 2, dtype="float32"))
    if shift:
        layers.append(L.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed + 3, dtype="float32"))
    if brightness:
        layers.append(L.RandomBrightness(brightness, value_range=(0.0, 1.0), seed=seed + 4, dtype="float32"))
    if contrast:
        layers.append(L.RandomContrast(contrast, seed=seed + 5, dtype="float32"))
    if erasing:
        layers.append(L.RandomErasing(factor=erasing, value_range=(0.0, 1.0), seed=seed + 6, dtype="float32"))
    return keras.Sequential(layers, name="augment")


#: Folded into the batch seed so the augmentation's draws never repeat mixup's (seed, i).
_AUGMENT_SALT = 0x5EED


def augment_batch(aug, images, seed):
    """Apply the layers of :func:`augmenter` to a batch, with draws that depend only on ``seed``.

    Keras' random layers keep a seed counter in a variable, so their draws depend on how
    many batches went before and, with parallel map calls, on which call ran first.
    Here each layer draws from ``seed`` (an int tensor of shape (2,)) folded with the
    number of the draw, and transforms the batch as its own call would.

    >>> import numpy as np, tensorflow as tf
    >>> aug = augmenter(seed=0)
    >>> x = tf.constant(np.random.default_rng(0).random((4, 48, 48, 1)), tf.float32)
    >>> a = augment_batch(aug, x, tf.constant([0, 7], tf.int64))
    >>> bool(tf.reduce_all(a == augment_batch(aug, x, tf.constant([0, 7], tf.int64))))
    True
    """
    tf, keras = import_tf()
    return _transform(aug.layers, images, _stateless_generator(tf, keras, seed))


def _transform(layers, images, draws):
    """What the layers' calls do to a batch of images, drawing from the seed generator ``draws``."""
    for layer in layers:
        change = layer.get_random_transformation(images, training=True, seed=draws)
        images = layer.transform_images(images, change, training=True)
    return images


def _stateless_generator(tf, keras, seed):
    """A Keras seed generator whose n-th draw is ``fold_in(seed, n)``: no variable, nothing carried over."""
    fold = tf.random.experimental.stateless_fold_in

    class Draws(keras.random.SeedGenerator):
        def __init__(self):  # deliberately no state variable
            self.count = 0

        def next(self, ordered=True):
            self.count += 1
            return fold(seed, self.count)

    return Draws()


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
    worker, the shares of all workers hold exactly the images of the one-machine batches,
    and each worker reads and augments only its own (with draws of its own: the
    augmentation of a share is not the one-machine batch's slice). ``class_weight`` (a weight per class,
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
    steps = n // batch_size
    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1)).flat_map(one_epoch)
    ds = ds.enumerate(start=first_epoch * steps)  # the batch number, the same on every worker
    aug = augmenter(seed=seed, **(aug_options or {})) if augment else None

    def gather(i, idx):
        images = _scale(tf, tf.gather(x, idx))
        if aug is not None:
            batch_seed = tf.random.experimental.stateless_fold_in(tf.stack([seed_t, i]), _AUGMENT_SALT + k)
            images = tf.clip_by_value(augment_batch(aug, images, batch_seed), 0.0, 1.0)
        return i, images, tf.gather(y, idx)

    ds = ds.map(gather, num_parallel_calls=calls)
    if class_weight is not None:
        if labels.ndim != 1:
            raise ValueError("class_weight needs class-code labels, not soft targets")
        if isinstance(class_weight, dict):  # Keras' form: {class: weight}
            class_weight = [class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)]
        w = tf.constant(np.asarray(class_weight, np.float32))
        ds = ds.map(lambda i, a, b: (i, a, b, tf.gather(w, b)))
    if n_classes and labels.ndim == 1:
        ds = ds.map(lambda i, a, b, *w: (i, a, tf.one_hot(b, n_classes), *w))
    if mixup:
        if not n_classes:
            raise ValueError("mixup needs n_classes (targets must be one-hot or soft)")
        ds = ds.map(lambda i, a, b, *w: (*_mixup(tf, a, b, alpha=mixup, seed=tf.stack([seed_t, i])), *w),
                    num_parallel_calls=calls)
    else:
        ds = ds.map(lambda i, *rest: tuple(rest))
    return _untuned(tf, ds.prefetch(PREFETCH)), steps


def _mixup(tf, images, targets, *, alpha, seed):
    """Blend a batch with its reverse: weight ~ Beta(alpha, alpha), kept >= 0.5 so each row stays itself."""
    g1 = tf.random.stateless_gamma([], seed=seed, alpha=alpha)
    g2 = tf.random.stateless_gamma([], seed=seed + 1, alpha=alpha)
    lam = g1 / (g1 + g2)
    lam = tf.maximum(lam, 1.0 - lam)
    w = tf.cast(lam, images.dtype)
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
