"""Shared fixtures: small real image folders built in tmp_path."""
import pytest

from helpers import face, write_image


@pytest.fixture
def split_folder(tmp_path):
    """A <split>/<label>/ folder of 48x48 PNGs: 3 per label in train, 1 in val and test."""
    root = tmp_path / "faces"
    k = 0
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        for label in ("angry", "happy", "sad"):
            for i in range(n):
                k += 1
                write_image(root / split / label / f"{label}_{i}.png", face(k, label))
    return root
