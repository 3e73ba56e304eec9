"""The one place for label facts: FER-2013 emotion codes, synonyms, and Usage names.

Codes follow FER-2013 (0 angry ... 6 neutral); further known labels get further
fixed codes (7 contempt, as in FER+), so integer CSVs stay self-describing.
"""
import re

from ..core.errors import BadInputError, UnsafePathError

#: FER-2013 label order: ``FER2013_LABELS[code]`` is the emotion name.
FER2013_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Known labels beyond FER-2013, with fixed codes continuing the FER-2013 order.
EXTENDED_LABELS = FER2013_LABELS + ("contempt",)

#: Folder or CSV label spellings mapped to canonical names (lower-case keys).
SYNONYMS = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "joyful": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise", "suprise": "surprise",
    "neutral": "neutral", "neutrality": "neutral",
    "contempt": "contempt", "contemptuous": "contempt",
}

#: Name used for images that carry no label (e.g. Kaggle ``test.csv``).
UNLABELED = "unlabeled"

#: FER-2013 Usage values, in the order rows are written.
USAGES = ("Training", "PublicTest", "PrivateTest")

#: Prefix of the soft-target columns of a FER+ CSV (``p_angry`` ... ``p_contempt``).
TARGET_PREFIX = "p_"

#: Split folder name for each Usage when a CSV is turned back into a folder.
USAGE_FOLDERS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}

_SPLIT_SYNONYMS = {
    "train": "Training", "training": "Training",
    "val": "PublicTest", "valid": "PublicTest", "validation": "PublicTest",
    "publictest": "PublicTest", "public_test": "PublicTest", "dev": "PublicTest",
    "test": "PrivateTest", "testing": "PrivateTest", "privatetest": "PrivateTest",
    "private_test": "PrivateTest",
}

_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)


def canonical_label(name):
    """Return the canonical emotion name for a folder or CSV label spelling.

    Unknown names are returned stripped and lower-cased, so they stay stable keys.

    >>> canonical_label("Happiness"), canonical_label(" Surprised "), canonical_label("Confused")
    ('happy', 'surprise', 'confused')
    """
    key = str(name).strip().lower()
    return SYNONYMS.get(key, key)


def known_code(name):
    """Fixed code of a known label (``None`` for other labels).

    >>> known_code("anger"), known_code("contempt"), known_code("confused")
    (0, 7, None)
    """
    canon = canonical_label(name)
    return EXTENDED_LABELS.index(canon) if canon in EXTENDED_LABELS else None


def label_table(names):
    """Build the code -> name list for a set of label names.

    Known labels keep their fixed codes; the 7 FER-2013 labels are always
    present; other labels get the next free codes in sorted order.

    >>> label_table(["happy", "contempt", "confused"])[6:]
    ['neutral', 'contempt', 'confused']
    """
    canon = {canonical_label(n) for n in names} - {UNLABELED}
    table = list(FER2013_LABELS)
    if "contempt" in canon or any(c not in EXTENDED_LABELS for c in canon):
        table.append("contempt")
    table += sorted(c for c in canon if c not in table)
    return table


def code_names(n_classes):
    """Names for codes ``0 .. n_classes - 1`` when nothing names them: the fixed known labels,
    then ``class<code>``. Datasets and models without a labels file both use this.

    >>> code_names(8)[-1], code_names(10)[-2:]
    ('contempt', ['class8', 'class9'])
    """
    return list(EXTENDED_LABELS[:n_classes]) + [f"class{k}" for k in range(len(EXTENDED_LABELS), n_classes)]


def is_standard(table):
    """True when every code of ``table`` is a fixed, known code (CSV can hold integers)."""
    return list(table) == list(EXTENDED_LABELS[: len(table)])


def usage_from_folder(name):
    """Usage for a split folder name, or ``None`` if ``name`` is not a split folder.

    >>> usage_from_folder("Train"), usage_from_folder("validation"), usage_from_folder("happy")
    ('Training', 'PublicTest', None)
    """
    return _SPLIT_SYNONYMS.get(str(name).strip().lower())


def usage_from_filename(name):
    """Usage taken from a Kaggle-style ``PublicTest_123.jpg`` prefix, else ``None``.

    >>> usage_from_filename("PrivateTest_88.jpg"), usage_from_filename("img1.png")
    ('PrivateTest', None)
    """
    m = _PREFIX.match(name)
    if not m:
        return None
    return {u.lower(): u for u in USAGES}[m.group(1).lower()]


def canonical_usage(value, *, where=""):
    """Normalise a Usage cell (``Training``, ``train``, ``val``...) to a FER-2013 Usage."""
    text = str(value).strip()
    if text in USAGES:
        return text
    usage = usage_from_folder(text)
    if usage is None:
        raise BadInputError(
            f"{where}unknown Usage value {text!r}; use one of Training, PublicTest, PrivateTest"
        )
    return usage


def safe_component(name, *, what="label"):
    """Return ``name`` if it is safe as a single folder name, else raise UnsafePathError.

    >>> safe_component("happy")
    'happy'
    """
    text = str(name)
    bad = (
        not text.strip()
        or text in (".", "..")
        or any(ch in text for ch in ("/", "\\", "\0", ":"))
        or text != text.strip()
        or any(ord(ch) < 32 for ch in text)
    )
    if bad:
        raise UnsafePathError(
            f"{what} {text!r} cannot be used as a folder name (it is empty, '.', '..', "
            f"or holds a path separator or control character); rename it in the CSV"
        )
    return text
