"""Recipe options of the published FER recipes: mixup, random erasing, SGD-Nesterov, weight averaging (EMA),
ten-crop TTA."""
import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

import fercsv
from fercsv.training.evaluation import TTA_MODES, tta_views

pytestmark = pytest.mark.tensorflow


def _batches(ds, n=3):
    return [(a.numpy(), b.numpy()) for a, b in ds.take(n)]


def test_mixup_blends_each_batch_with_its_reverse():
    from fercsv.training.pipeline import train_dataset

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, 64)
    plain, _ = train_dataset(images, labels, batch_size=16, augment=False, n_classes=7, epochs=1)
    mixed, _ = train_dataset(images, labels, batch_size=16, augment=False, n_classes=7, epochs=1, mixup=0.4)
    weights = []
    for (x, y), (mx, my) in zip(_batches(plain), _batches(mixed)):
        lam = my[0][y[0].argmax()] if y[0].argmax() != y[-1].argmax() else None
        if lam is None:
            continue
        weights.append(lam)
        assert 0.5 <= lam <= 1.0
        np.testing.assert_allclose(mx, lam * x + (1 - lam) * x[::-1], atol=1e-5)
        np.testing.assert_allclose(my, lam * y + (1 - lam) * y[::-1], atol=1e-6)
        np.testing.assert_allclose(my.sum(1), 1.0, atol=1e-6)
    assert weights and len(set(np.round(weights, 6))) == len(weights)  # a new weight per batch


def test_random_erasing_blanks_one_rectangle():
    from fercsv.training.pipeline import augmenter

    aug = augmenter(flip=False, rotation=0, zoom=0, shift=0, brightness=0, contrast=0, erasing=1.0, seed=3)
    x = np.full((8, 48, 48, 1), 0.5, np.float32)
    out = np.asarray(aug(x, training=True))
    changed = (np.abs(out - x) > 1e-6).reshape(8, -1).mean(1)
    # Keras draws the rectangle's size per image; a draw can round to nothing, most do not
    assert (changed > 0).sum() >= 4 and (changed <= 0.34).all()
    first = int(np.argmax(changed > 0))
    rows, cols = np.nonzero(np.abs(out[first, ..., 0] - 0.5) > 1e-6)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert box == len(rows)  # the erased pixels fill their bounding box: one rectangle


def test_ten_crop_views_are_the_face_and_ten_crops():
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (48, 48), dtype=np.uint8), (0, 0), 3)
    views = list(tta_views(img[None], "ten-crop"))
    assert len(views) == len(TTA_MODES["ten-crop"]) == 11
    np.testing.assert_array_equal(views[0][0], img)
    side = round(48 / 1.1)
    starts = {(0, 0): (48 - side) // 2, (-1, -1): 0, (1, 1): 48 - side}
    crops = {k: cv2.resize(img[s:s + side, s:s + side], (48, 48), interpolation=cv2.INTER_LINEAR)
             for k, s in starts.items()}
    by_shift = {(v.dx, v.dy): views[i][0] for i, v in enumerate(TTA_MODES["ten-crop"]) if i and not v[0]}
    for shift, crop in crops.items():
        # the diagonal corners: the window shift moves content the opposite way of the crop's corner
        view = by_shift[shift] if shift == (0, 0) else by_shift[tuple(-d for d in shift)]
        assert np.mean(np.abs(view.astype(float) - crop)) < 3.0, shift
    mirrored = [views[i][0] for i, v in enumerate(TTA_MODES["ten-crop"]) if v[0]]
    assert len(mirrored) == 5
    assert len({v.tobytes() for v in views}) == 11


def test_sgd_mixup_erasing_run_is_recorded_and_resumable_settings(tmp_path, synth_csv):
    run = tmp_path / "sgd"
    fercsv.train(synth_csv, run, epochs=1, batch_size=32, optimizer="sgd", mixup=0.2, erasing=0.5,
                 lr=0.01, tta="ten-crop", verbose=0, out=lambda m: None)
    settings = json.loads((run / "config.json").read_text())["settings"]
    assert (settings["optimizer"], settings["mixup"], settings["erasing"]) == ("sgd", 0.2, 0.5)
    import keras

    opt = keras.models.load_model(run / "last.keras").optimizer
    assert type(opt).__name__ == "SGD" and opt.nesterov and opt.momentum == pytest.approx(0.9)
    report = json.loads((run / "report.json").read_text())
    assert report["tta"] == "ten-crop" and "accuracy_no_tta" in report
    with pytest.raises(fercsv.BadInputError, match="optimizer"):
        fercsv.train(synth_csv, tmp_path / "bad", optimizer="adam")
    with pytest.raises(fercsv.BadInputError, match="erasing"):
        fercsv.train(synth_csv, tmp_path / "bad", erasing=1.5)
    assert not (tmp_path / "bad").exists()


def _val_loss(model, ds):
    """The validation loss as ``fit`` reports it: PublicTest, one-hot targets, batches of 256."""
    from fercsv.training.pipeline import eval_dataset
    import tensorflow as tf

    val = ds.subset(ds.usage == "PublicTest")
    data = eval_dataset(val.images, val.labels, batch_size=256).map(lambda x, y: (x, tf.one_hot(y, 7)))
    return model.evaluate(data, verbose=0, return_dict=True)["loss"]


def test_weight_average_is_what_validation_scores_and_best_keeps(synth_csv, tmp_path):
    """With ``ema`` the optimizer keeps a moving average of the weights: validation scores the
    average, best.keras holds it, and last.keras keeps the trained weights plus the average to
    resume from."""
    import keras
    from fercsv.training.trainer import averaged_weights

    ds = fercsv.read_csv(synth_csv)
    run = tmp_path / "ema"
    result = fercsv.train(ds, run, epochs=2, batch_size=32, warmup_epochs=0, ema=0.9, patience=0, tta="none",
                          precision="float32", verbose=0, out=lambda m: None)
    hist = pd.read_csv(run / "history.csv")
    last = keras.models.load_model(run / "last.keras")
    trained = [v.numpy() for v in last.trainable_variables]
    faces = ds.subset(ds.usage == "PublicTest").images[..., None] / 255.0
    # Scoring the same weights on the same batches repeats the logged loss to float32 rounding.
    with averaged_weights(last):
        averaged = [v.numpy() for v in last.trainable_variables]
        averaged_scores = last.predict(faces, verbose=0)
        assert _val_loss(last, ds) == pytest.approx(hist["val_loss"].iloc[-1], rel=1e-6)
    # the block restores the trained weights, and they are not the average: they score otherwise
    assert all(np.array_equal(a, b) for a, b in zip(trained, (v.numpy() for v in last.trainable_variables)))
    assert max(float(np.abs(a - b).max()) for a, b in zip(trained, averaged)) > 1e-3
    assert np.abs(last.predict(faces, verbose=0) - averaged_scores).max() > 1e-3
    assert _val_loss(last, ds) != pytest.approx(hist["val_loss"].iloc[-1], rel=1e-6)
    best = keras.models.load_model(run / "best.keras")
    assert _val_loss(best, ds) == pytest.approx(hist["val_loss"].iloc[result.best_epoch - 1], rel=1e-6)
    if result.best_epoch == 2:
        assert all(np.array_equal(a, v.numpy()) for a, v in zip(averaged, best.trainable_variables))
    assert json.loads((run / "config.json").read_text())["settings"]["ema"] == 0.9
    # without an average the block changes nothing
    plain = keras.models.load_model(run / "best.keras", compile=False)
    with averaged_weights(plain):
        assert all(np.array_equal(v.numpy(), w.numpy()) for v, w in zip(plain.trainable_variables,
                                                                          best.trainable_variables))


def test_run_dirs_from_before_the_recipe_options_still_match(tmp_path, tiny_run, synth_csv):
    """A RUN_DIR written before optimizer/mixup/erasing/ema existed ran with their defaults."""
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    cfg = json.loads((old / "config.json").read_text())
    for key in ("optimizer", "mixup", "erasing", "ema"):
        cfg["settings"].pop(key, None)
    (old / "config.json").write_text(json.dumps(cfg))
    said = []
    fercsv.train(synth_csv, old, epochs=3, batch_size=32, warmup_epochs=1, tta=False, precision="float32",
                 out=said.append)
    assert "already finished" in said[0]


def test_pipelines_run_untuned_and_keep_their_order():
    """tf.data's tuner is off in every fercsv pipeline: with it on, deleting an iterator (Keras does at
    the end of each fit and validation pass) waits for the tuner's next wake-up, up to 60 s."""
    from fercsv.training.pipeline import eval_dataset, train_dataset

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, 64)
    variants = {
        "plain": train_dataset(images, labels, batch_size=16, epochs=2)[0],
        "mixup": train_dataset(images, labels, batch_size=16, n_classes=7, mixup=0.4)[0],
        "weights, one worker's share": train_dataset(images, labels, batch_size=16, class_weight=[1.0] * 7,
                                                     part=(1, 2))[0],
        "evaluation": eval_dataset(images, labels, batch_size=10),
    }
    for name, ds in variants.items():
        assert ds.options().autotune.enabled is False, name
    # Fixed parallelism keeps the order: evaluation batches are the images in order, scaled.
    got = np.concatenate([x.numpy() for x, _ in variants["evaluation"]])
    np.testing.assert_allclose(got[..., 0], images / 255.0, atol=1e-6)
    # And an unaugmented training epoch is a permutation of all the images, the same on each build.
    first = [x.numpy() for x, _ in train_dataset(images, labels, batch_size=16, augment=False)[0]]
    again = [x.numpy() for x, _ in train_dataset(images, labels, batch_size=16, augment=False)[0]]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))
    seen = np.sort(np.round(np.concatenate(first)[..., 0] * 255).astype(np.uint8).reshape(64, -1), axis=0)
    np.testing.assert_array_equal(seen, np.sort(images.reshape(64, -1), axis=0))


def test_augmented_batches_are_a_function_of_seed_and_batch_number():
    """Augmentation, erasing and mixup draw from (seed, batch number), never from a counter: the same
    seed gives the same batches with parallel map calls, a pipeline started at epoch 2 gives the
    tail of one started at 0, every batch is augmented differently, and another seed differs."""
    from fercsv.training.pipeline import train_dataset

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, 64)
    options = dict(batch_size=16, epochs=3, n_classes=7, mixup=0.3, aug_options={"erasing": 0.5})

    def batches(**kw):
        return [(x.numpy(), y.numpy()) for x, y in train_dataset(images, labels, **{**options, **kw})[0]]

    whole = batches()
    assert len(whole) == 12 and len({x.tobytes() for x, _ in whole}) == 12
    for (x, y), (x2, y2) in zip(whole, batches(), strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    for (x, _), (x2, _) in zip(whole[8:], batches(first_epoch=2), strict=True):
        np.testing.assert_array_equal(x, x2)
    assert not any(np.array_equal(x, x2) for (x, _), (x2, _) in zip(whole, batches(seed=1)))


def test_stateless_augmentation_is_what_the_keras_layers_draw():
    """The pipeline transforms a batch as the augmentation layers' own call would, given the same
    draws; only where the draws come from differs (the batch's seed instead of a counter)."""
    import tensorflow as tf
    from fercsv.training.pipeline import _transform, augment_batch, augmenter

    x = tf.constant(np.random.default_rng(3).random((8, 48, 48, 1)), tf.float32)
    aug = augmenter(seed=5, erasing=0.5)
    own = aug(x, training=True).numpy()
    y = x
    for layer, fresh in zip(aug.layers, augmenter(seed=5, erasing=0.5).layers, strict=True):
        y = _transform([layer], y, fresh.generator)  # the draws of an unused copy of the layer
    np.testing.assert_array_equal(y.numpy(), own)
    z = augment_batch(aug, x, tf.constant([5, 0], tf.int64)).numpy()
    assert z.shape == own.shape and np.isfinite(z).all() and not np.array_equal(z, x.numpy())
    np.testing.assert_array_equal(z, augment_batch(aug, x, tf.constant([5, 0], tf.int64)).numpy())
    for other in ([5, 1], [6, 0]):  # another batch number, another seed: other draws
        assert not np.array_equal(z, augment_batch(aug, x, tf.constant(other, tf.int64)).numpy())


def test_plateau_halving_resumed_halves_when_an_unbroken_run_would():
    """The plateau schedule resumed after any epoch lowers the rate at the epochs Keras' own
    ReduceLROnPlateau lowers it in one unbroken run; a fresh callback at resume would not."""
    import keras
    from fercsv.training.plateau import plateau_halving

    scores = [0.30, 0.35, 0.35, 0.34, 0.36, 0.36, 0.36, 0.35, 0.40, 0.40, 0.39, 0.39]

    def rates(callback, epochs, lr, start=0):
        net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        net.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        callback.set_model(net)
        callback.on_train_begin()
        out = []
        for epoch in epochs:
            callback.on_epoch_end(start + epoch, {"val_accuracy": scores[start + epoch]})
            out.append(float(net.optimizer.learning_rate.numpy()))
        return out

    keras_own = keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2, mode="max")
    unbroken = rates(keras_own, range(12), 1.0)
    assert unbroken == rates(plateau_halving(keras, monitor="val_accuracy", patience=2), range(12), 1.0)
    assert unbroken.count(0.5) and min(unbroken) < 0.5  # the sequence halves more than once
    fresh_differs = False
    for cut in range(1, 12):
        rows = [{"val_accuracy": scores[e], "lr": ([1.0] + unbroken)[e]} for e in range(cut)]
        lr = unbroken[cut - 1]
        resumed = rates(plateau_halving(keras, monitor="val_accuracy", patience=2, history=rows),
                        range(12 - cut), lr, start=cut)
        assert resumed == unbroken[cut:], cut
        plain = rates(keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2, mode="max"),
                      range(12 - cut), lr, start=cut)
        fresh_differs |= plain != unbroken[cut:]
    assert fresh_differs
