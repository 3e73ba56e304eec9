"""The full demo: synthetic data through training, prediction and export, at its default size."""
import re

import pytest

from helpers import run_cli

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


def test_full_demo_reaches_90_percent_and_exports(tmp_path):
    r = run_cli("demo", "--workdir", tmp_path / "demo")
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    acc = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
    assert acc >= 90.0, out
    assert "round trip byte-identical: True" in out
    assert re.search(r"\[7\] predict: [1-9] faces found", out)
    assert "export ONNX" in out and "top-1 agreement 100%" in out
    for name in ("faces.csv", "run/best.keras", "run/curves.png", "run/confusion.png",
                 "photo_annotated.png", "model.onnx", "model.tflite"):
        assert (tmp_path / "demo" / name).is_file(), name
