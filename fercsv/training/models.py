"""Keras models for 48x48 grayscale faces: the tutorials' seed CNN, fercsv's default, transfer backbones.

Every model starts with an ``Input`` named ``image`` (exporters use the name)
and ends with a float32 softmax; no augmentation layers live inside a model.
"""
from ..core import checks
from ..core.errors import BadInputError, FercsvError
from ..runtime.contract import INPUT_SCALE
from ..runtime.tfutil import import_tf, walk_layers

#: Input layer name shared by every fercsv model (and the exported ONNX/TFLite input).
INPUT_NAME = "image"


def _conv_bn(x, L, filters, *, name=None):
    x = L.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    # momentum 0.9: running statistics settle within a few hundred steps, so
    # validation scores are meaningful early, even on small datasets.
    x = L.BatchNormalization(momentum=0.9)(x)
    return L.Activation("relu")(x)


def seed_cnn(input_shape=(48, 48, 1), n_classes=7):
    """The classic Colab-tutorial CNN: conv pairs 32/64/128/256 with BN and pooling, Dense 128."""
    tf, keras = import_tf()
    L = keras.layers
    inp = keras.Input(input_shape, name=INPUT_NAME)
    x = inp
    for f in (32, 64, 128, 256):
        x = L.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = L.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(128)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(0.2)(x)
    out = L.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inp, out, name="seed_cnn")


def fercnn(input_shape=(48, 48, 1), n_classes=7, *, width=32, dropout=0.4):
    """fercsv's default: a VGG-style stack sized for a CPU budget.

    Four blocks of two 3x3 conv + BN + ReLU (width, 2w, 4w, 8w filters), max
    pooling and light spatial dropout, then a 256-unit dense head with dropout.
    About 1.3 M parameters at width 32; ~200 training images/s on 2 CPU cores.
    """
    tf, keras = import_tf()
    L = keras.layers
    inp = keras.Input(input_shape, name=INPUT_NAME)
    x = inp
    for i, f in enumerate((width, 2 * width, 4 * width, 8 * width)):
        x = _conv_bn(x, L, f)
        x = _conv_bn(x, L, f)
        x = L.MaxPooling2D()(x)
        if i >= 1:
            x = L.SpatialDropout2D(0.1)(x)
    x = L.Flatten()(x)
    x = L.Dense(256, use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9)(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(dropout)(x)
    out = L.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inp, out, name="fercnn")


def transfer(backbone, input_shape=(48, 48, 1), n_classes=7, *, weights=None, size=96):
    """A ``keras.applications`` backbone on grayscale faces (replicated to 3 channels, upsized).

    ``weights="imagenet"`` downloads pretrained weights (a clear error says so
    when that fails, e.g. offline); ``weights=None`` trains from scratch.
    """
    key = backbone_key(backbone)
    checks.choice("build_model", "weights", weights, WEIGHTS)
    tf, keras = import_tf()
    L = keras.layers
    inp = keras.Input(input_shape, name=INPUT_NAME)
    x = L.Resizing(size, size)(inp)
    x = L.Concatenate()([x, x, x])
    x = L.Rescaling(INPUT_SCALE)(x)  # keras.applications expect 0..255 inputs before their own preprocessing
    try:
        base = getattr(keras.applications, BACKBONES[key])(include_top=False, weights=weights, input_shape=(size, size, 3))
    except Exception as exc:  # urllib errors, HTTP errors, certificate errors...
        if weights is None:
            raise
        raise FercsvError(
            f"could not download the {weights} weights for {backbone} ({type(exc).__name__}: {exc}); "
            "connect to the internet, or pass weights=None (CLI --weights none) to train from scratch"
        ) from None
    x = base(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.3)(x)
    out = L.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inp, out, name=f"{key}_transfer")


#: Named models (``build_model(name)``, CLI ``train --model``); the first is the default.
def fercnn_wide(input_shape=(48, 48, 1), n_classes=7):
    """fercnn at twice the width (64-512 filters, about 5 M parameters): the size of the VGG
    variants behind the best published single-model FER-2013 figures; meant for a GPU."""
    return fercnn(input_shape, n_classes, width=64)


#: Named models (``build_model(name)``, CLI ``--model``).
MODELS = {"fercnn": fercnn, "fercnn-wide": fercnn_wide, "seed-cnn": seed_cnn}

#: Transfer backbones (``build_model(backbone=...)``, CLI ``--backbone``): name -> keras.applications class.
BACKBONES = {"vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "mobilenetv2": "MobileNetV2",
             "efficientnetb0": "EfficientNetB0"}

#: Backbone weights: from scratch, or downloaded ImageNet weights.
WEIGHTS = (None, "imagenet")


def backbone_key(backbone: str) -> str:
    """The :data:`BACKBONES` key of a spelling such as ``"VGG-16"``; a clear error for unknown ones.

    >>> backbone_key("MobileNet_V2")
    'mobilenetv2'
    """
    key = str(backbone).lower().replace("-", "").replace("_", "")
    if key not in BACKBONES:
        raise BadInputError(f"build_model: backbone (CLI --backbone) must be one of {', '.join(BACKBONES)}; "
                            f"got {backbone!r}")
    return key


def check_model(name, backbone=None, weights=None):
    """Validate a model choice before anything is built or written."""
    if backbone:
        backbone_key(backbone)
    elif name not in MODELS:
        raise BadInputError(f"unknown model {name!r}: build_model: model (CLI --model) must be one of "
                            f"{', '.join(MODELS)}, or pass a backbone such as vgg16")
    checks.choice("build_model", "weights", weights, WEIGHTS)


def build_model(name="fercnn", *, input_shape=(48, 48, 1), n_classes=7, backbone=None, weights=None):
    """Build a named model: ``"fercnn"`` (default), ``"seed-cnn"``, or a transfer ``backbone``.

    >>> m = build_model("seed-cnn", n_classes=8)             # needs the train extra (TensorFlow)
    >>> m.input.name, m.input.shape, m.output.shape
    ('image', (None, 48, 48, 1), (None, 8))
    >>> build_model("resnet")                                # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: unknown model 'resnet': ... must be one of fercnn, fercnn-wide, seed-cnn, or pass a backbone such as vgg16
    """
    check_model(name, backbone, weights)
    if backbone:
        return transfer(backbone, input_shape, n_classes, weights=weights)
    return MODELS[name](input_shape, n_classes)


def load_for_training(path, *, policy: str):
    """A saved model ready to train on under the dtype ``policy``: weights, optimizer state, precision.

    Keras 3 writes a spatial dropout layer's variable dtype (float32) into its config, so
    under mixed precision it reloads computing in float32, and its masks then differ from
    the ones the same seed drew before the save. Those layers get ``policy`` back; every
    other layer keeps its saved policy (the float32 softmax stays float32).
    """
    _, keras = import_tf()
    net = keras.models.load_model(path)
    spatial = (keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D)
    for layer in walk_layers(net):
        if isinstance(layer, spatial):
            layer.dtype_policy = policy
    return net
