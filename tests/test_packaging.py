"""The sdist and wheel hold everything fercsv needs at run time, and installing the wheel with its
extras into an environment that has TensorFlow, numpy and OpenCV changes none of them."""
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from fercsv.core import project

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist and wheel built from a copy of the source tree with a model file in fercsv/weights."""
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "fercsv", src / "fercsv", ignore=shutil.ignore_patterns("__pycache__"))
    weights = src / "fercsv" / "weights"
    weights.mkdir(exist_ok=True)
    (weights / "packtest.onnx").write_bytes(b"\x08\x07onnx-bytes")
    (weights / "packtest.json").write_text('{"labels": ["angry"]}')
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_wheel_and_sdist_hold_javascript_and_weights(dist):
    wheel = next(dist.glob("fercsv-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    js = {p.name for p in (ROOT / "fercsv" / "js").glob("*.js")}
    assert js and {f"fercsv/js/{n}" for n in js} <= names
    assert {"fercsv/weights/packtest.onnx", "fercsv/weights/packtest.json"} <= names
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "fercsv").rglob("*.py")}
    assert "fercsv/core/project.py" in modules and "fercsv/serve/colab.py" in modules
    assert modules <= names, sorted(modules - names)  # every floor's modules ship
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert f"Home-page: {project.HOME}" in meta or f"Project-URL: Homepage, {project.HOME}" in meta
    sdist = next(dist.glob("fercsv-*.tar.gz"))
    members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
    assert {f"fercsv/js/{n}" for n in js} <= members
    assert {"fercsv/weights/packtest.onnx", "fercsv/weights/packtest.json", "README.md"} <= members


def test_installing_the_wheel_with_extras_keeps_tensorflow_numpy_opencv(dist, tmp_path):
    wheel = next(dist.glob("fercsv-*.whl"))
    report = tmp_path / "report.json"
    meta = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist()
                                            if n.endswith(".dist-info/METADATA"))).decode()
    extras = ",".join(e for e in re.findall(r"^Provides-Extra: (\S+)$", meta, re.M) if e != "test")
    assert {"train", "export", "colab", "video", "all"} <= set(extras.split(","))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-index", "--find-links",
         str(dist), "--report", str(report), f"fercsv[{extras}] @ {wheel.as_uri()}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    planned = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert "fercsv" in planned
    assert not {"tensorflow", "numpy", "opencv-python-headless", "opencv-python", "keras"} & set(planned)
    assert set(planned) == {"fercsv"}, planned  # everything else is already satisfied here


def test_one_home_everywhere():
    assert re.search(r'url=PROJECT\["HOME"\]', (ROOT / "setup.py").read_text())
    assert project.BADGE in (ROOT / "README.md").read_text()
    notebook = (ROOT / "colab" / "fercsv_starter.ipynb").read_text()
    assert project.COLAB_URL in notebook and project.GIT_REQUIREMENT in notebook
    homes = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", (ROOT / "README.md").read_text() + notebook))
    assert homes <= {project.HOME}, homes
