"""CI executes the whole starter notebook headless on synthetic data with tiny settings."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[1] / "colab" / "fercsv_starter.ipynb"


def test_starter_notebook_runs_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("FERCSV_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "skipped: the webcam cells need Google Colab" in text
    assert "wrote" in text and "accuracy" in text and "max |diff|" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 4  # samples, curves, confusion, annotated photo
