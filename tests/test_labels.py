import pytest

from fercsv.data import labels as L


def test_fer2013_order_and_synonyms():
    assert L.FER2013_LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert [L.known_code(n) for n in ("Anger", "disgusted", "FEARFUL", "happiness", "sadness",
                                      "surprised", "Neutral", "contempt")] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert L.known_code("confused") is None


def test_label_table_extends_without_moving_codes():
    assert L.label_table(["happy"]) == list(L.FER2013_LABELS)
    assert L.label_table(["zeta", "alpha"]) == list(L.EXTENDED_LABELS) + ["alpha", "zeta"]
    assert L.is_standard(L.label_table(["contempt"])) and not L.is_standard(L.label_table(["x"]))


def test_usage_mapping():
    assert [L.usage_from_folder(n) for n in ("train", "Training", "val", "valid", "validation",
                                             "PublicTest", "test", "privatetest")] == \
        ["Training"] * 2 + ["PublicTest"] * 4 + ["PrivateTest"] * 2
    assert L.usage_from_filename("PublicTest_123.jpg") == "PublicTest"
    assert L.usage_from_filename("happy_1.png") is None


@pytest.mark.parametrize("bad", ["", "..", ".", "a/b", "a\\b", "x\0", "/abs", " sp", "c:d"])
def test_safe_component_refuses(bad):
    with pytest.raises(L.UnsafePathError):
        L.safe_component(bad)
