"""Pretrained FER models shipped inside the package, trained by this project's own scripts.

Each model is an ONNX file (float16 weights, float32 compute) with its label
names, training command and measured accuracy in a JSON card beside it.
Prediction with them needs only onnxruntime (``pip install "fercsv[predict]"``).
"""
import json
from importlib import resources
from pathlib import Path

from ..core.errors import BadInputError

#: Shipped models: name -> what it predicts. The first one is the default.
PRETRAINED = {
    "fer2013": "FER-2013's seven emotions (angry, disgust, fear, happy, sad, surprise, neutral)",
    "ferplus": "FER+ majority labels: FER-2013's seven emotions and contempt",
}

#: Name used when a command is given no model.
DEFAULT_PRETRAINED = "fer2013"

_FOLDER = "weights"


def _folder() -> Path:
    return Path(str(resources.files("fercsv") / _FOLDER))


def check_name(name: str) -> str:
    """Return ``name`` if it names a shipped model, else raise a one-line error listing them."""
    if name not in PRETRAINED:
        raise BadInputError(f"no pretrained model named {name!r}; choose one of {', '.join(PRETRAINED)}")
    return name


def pretrained_path(name: str = DEFAULT_PRETRAINED) -> Path:
    """Path of the shipped ONNX file of ``name`` (``"fer2013"`` or ``"ferplus"``).

    >>> pretrained_path("fer2013").name
    'fer2013.onnx'
    """
    path = _folder() / f"{check_name(name)}.onnx"
    if not path.is_file():
        raise BadInputError(f"the pretrained model {name!r} is not in this install ({path} is missing); "
                            "reinstall fercsv from a wheel or sdist, or pass a RUN_DIR or model file")
    return path


def model_card(name: str = DEFAULT_PRETRAINED) -> dict:
    """What is known about a shipped model: labels, training command, seed, accuracy and split.

    >>> sorted(model_card("fer2013"))[:3]
    ['accuracy', 'command', 'data']
    """
    path = _folder() / f"{check_name(name)}.json"
    if not path.is_file():
        raise BadInputError(f"{path}: the card of the pretrained model {name!r} is missing; reinstall fercsv")
    return json.loads(path.read_text())


def is_pretrained(spec) -> bool:
    """True when ``spec`` names a shipped model (``"fer2013"``, ``"pretrained:ferplus"``...)."""
    if not isinstance(spec, str):
        return False
    return spec.removeprefix("pretrained:") in PRETRAINED and not Path(spec).exists()
