import pytest

from fercsv import FercsvError
from fercsv.training.models import INPUT_NAME, build_model

pytestmark = pytest.mark.tensorflow


@pytest.mark.parametrize("name", ["fercnn", "seed-cnn"])
def test_models_have_named_input_and_softmax(name):
    import numpy as np

    m = build_model(name, input_shape=(48, 48, 1), n_classes=8)
    assert m.input.name == INPUT_NAME
    assert tuple(m.output.shape) == (None, 8)
    kinds = {type(layer).__name__ for layer in m.layers}
    assert not any(k.startswith("Random") for k in kinds)  # augmentation stays out of the model
    p = np.asarray(m(np.zeros((2, 48, 48, 1), np.float32)))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)


def test_seed_cnn_layout():
    m = build_model("seed-cnn")
    convs = [layer.filters for layer in m.layers if type(layer).__name__ == "Conv2D"]
    assert convs == [32, 32, 64, 64, 128, 128, 256, 256]
    dense = [layer.units for layer in m.layers if type(layer).__name__ == "Dense"]
    assert dense == [128, 7]


def test_other_sizes_and_transfer_offline():
    m = build_model("fercnn", input_shape=(64, 64, 1), n_classes=5)
    assert tuple(m.output.shape) == (None, 5)
    t = build_model(backbone="vgg16", weights=None, input_shape=(48, 48, 1), n_classes=7)
    assert t.input.name == INPUT_NAME and tuple(t.output.shape) == (None, 7)


def test_imagenet_weights_unreachable_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a closed port: fails at once, no network used
    with pytest.raises(FercsvError, match="could not download the imagenet weights for vgg16"):
        build_model(backbone="vgg16", weights="imagenet")
