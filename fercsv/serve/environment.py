"""What this Python environment (a Colab runtime, a laptop) offers fercsv: versions, the device TensorFlow will train on, GPU memory,
Google Drive. Works without TensorFlow (it then says so), so a notebook's first cell can print it.
"""
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@dataclass
class Environment:
    """A snapshot of the runtime; ``str()`` gives a few readable lines."""

    fercsv: str
    python: str
    tensorflow: str = None
    keras: str = None
    device: str = "CPU"
    gpus: list = field(default_factory=list)  # "name, memory" per GPU
    colab: bool = False
    drive: str = None  # where Drive is mounted, or None
    notes: list = field(default_factory=list)

    def __str__(self):
        tf = f"TensorFlow {self.tensorflow}, Keras {self.keras}" if self.tensorflow else \
            "TensorFlow not installed (pip install 'fercsv[train]' to train)"
        lines = [f"fercsv {self.fercsv} | Python {self.python} | {tf}",
                 f"device: {self.device}" + (f" ({'; '.join(self.gpus)})" if self.gpus else ""),
                 f"Colab: {'yes' if self.colab else 'no'} | Google Drive: "
                 + (f"mounted at {self.drive}" if self.drive else "not mounted")]
        return "\n".join(lines + self.notes)


def _version(dist):
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _nvidia_gpus():
    """GPU names and memory from nvidia-smi (no TensorFlow needed), or []."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append(f"{parts[0]}, {parts[2]} used of {parts[1]}")
    return gpus


def _drive():
    from . import colab

    for candidate in filter(None, [colab.MOUNTED, "/content/drive/MyDrive"]):
        if Path(candidate).is_dir():
            return str(candidate)
    return None


def describe(*, print_it: bool = True) -> "Environment":
    """Print (and return) what the runtime has: fercsv, TensorFlow and Keras versions, the device
    training will use, GPU memory, and whether Google Drive is mounted.

    TensorFlow is asked only when it is installed; its import takes a few seconds.

    >>> str(describe(print_it=False)).startswith("fercsv ")
    True
    """
    from ..core.version import __version__
    from . import colab

    rt = Environment(fercsv=__version__, python=platform.python_version(), colab=colab.in_colab(), drive=_drive())
    rt.tensorflow = _version("tensorflow") or _version("tensorflow-cpu")
    rt.keras = _version("keras")
    rt.gpus = _nvidia_gpus()
    tpu = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME") or Path("/dev/accel0").exists())
    try:
        import tensorflow as tf  # asked only when installed: the import takes seconds
    except ImportError:  # not installed, or broken: the ground floor works without it
        tf = rt.tensorflow = rt.keras = None
    if tf is not None:
        seen = tf.config.list_physical_devices("GPU")
        if seen:
            rt.device = f"GPU x{len(seen)} (mixed float16 training)"
        elif tpu:
            rt.device = "TPU"
        else:
            rt.device = "CPU"
        if rt.gpus and not seen:
            rt.notes.append("note: a GPU is present but TensorFlow cannot use it; install a CUDA build of "
                            "TensorFlow (in Colab: Runtime > Restart session)")
    else:
        rt.device = "GPU" if rt.gpus else ("TPU" if tpu else "CPU")
    if rt.device == "CPU" and rt.colab:
        rt.notes.append("note: training runs on the CPU; for a GPU choose Runtime > Change runtime type > "
                        "T4 GPU, then run the notebook again")
    if print_it:
        print(rt)
    return rt
