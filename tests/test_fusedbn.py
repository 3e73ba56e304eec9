"""Batch normalisation trained as one fused op gives Keras' own numbers, and leaves the model Keras'."""
import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow


def _net(keras):
    L = keras.layers
    inp = keras.Input((48, 48, 1), name="image")
    h = L.Conv2D(8, 3, use_bias=False)(inp)
    h = L.BatchNormalization(momentum=0.9)(h)  # 4-D, fercnn's momentum
    h = L.Activation("relu")(h)
    h = L.MaxPooling2D(4)(h)
    h = L.Conv2D(16, 3)(h)
    h = L.BatchNormalization(center=False)(h)  # no offset: the fused op gets zeros
    h = L.Flatten()(h)
    h = L.Dense(32)(h)
    h = L.BatchNormalization(momentum=0.9)(h)  # 2-D, as after fercnn's dense layer
    h = L.Activation("relu")(h)
    return keras.Model(inp, L.Dense(7, activation="softmax", dtype="float32")(h))


def _ops(tf, fn):
    return {op.type for op in tf.function(fn).get_concrete_function().graph.get_operations()}


def test_fused_training_matches_keras_and_saves_plain_keras(tmp_path):
    from fercsv.runtime.tfutil import import_tf
    from fercsv.training.fusedbn import fuse_batch_norm

    tf, keras = import_tf()
    keras.utils.set_random_seed(0)
    plain, fused = _net(keras), _net(keras)
    fused.set_weights(plain.get_weights())
    assert fuse_batch_norm(fused) == 3 and fuse_batch_norm(fused) == 0
    rng = np.random.default_rng(0)
    x = rng.random((48, 48, 48, 1), dtype=np.float32)
    y = rng.integers(0, 7, 48)
    assert "FusedBatchNormV3" in _ops(tf, lambda: fused(x, training=True))
    assert "FusedBatchNormV3" not in _ops(tf, lambda: plain(x, training=True))
    assert "FusedBatchNormV3" not in _ops(tf, lambda: fused(x, training=False))  # inference: Keras' layer
    for net in (plain, fused):
        net.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    lp = plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    lf = fused.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(lf, lp, rtol=1e-5)
    assert lp[-1] < lp[0]  # it trained
    # Weights and moving statistics alike, to float32 summation order (a biased/unbiased variance mix-up
    # would put the 2-D layer's moving variance 6 % off: n = 16).
    for w_plain, w_fused in zip(plain.weights, fused.weights):
        np.testing.assert_allclose(np.asarray(w_fused), np.asarray(w_plain), rtol=1e-3, atol=5e-4,
                                   err_msg=w_plain.path)
    # The saved file is plain Keras: it loads without fercsv and predicts as the trained model does.
    fused.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in plain.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fused.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), plain.predict(x, verbose=0), atol=1e-3)


def test_fused_training_in_bfloat16_stays_close_to_keras():
    from fercsv.runtime.tfutil import import_tf, precision_policy
    from fercsv.training.fusedbn import fuse_batch_norm

    tf, keras = import_tf()
    keras.utils.set_random_seed(1)
    with precision_policy("mixed_bfloat16"):
        plain, fused = _net(keras), _net(keras)
    fused.set_weights(plain.get_weights())
    fuse_batch_norm(fused)
    x = np.random.default_rng(1).random((32, 48, 48, 1), dtype=np.float32)
    out_plain, out_fused = plain(x, training=True), fused(x, training=True)
    assert out_fused.dtype == out_plain.dtype == tf.float32
    np.testing.assert_allclose(out_fused.numpy(), out_plain.numpy(), atol=2e-2)  # bfloat16 rounding
    bn = [layer for layer in fused.layers if type(layer).__name__ == "BatchNormalization"]
    ref = [layer for layer in plain.layers if type(layer).__name__ == "BatchNormalization"]
    for a, b in zip(bn, ref):
        np.testing.assert_allclose(np.asarray(a.moving_mean), np.asarray(b.moving_mean), rtol=2e-2, atol=1e-3)
        np.testing.assert_allclose(np.asarray(a.moving_variance), np.asarray(b.moving_variance), rtol=2e-2)
