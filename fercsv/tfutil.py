"""TensorFlow on demand: quiet import, device strategy, mixed-precision policy.

Only upper-floor modules call these, inside functions, so ``import fercsv``
never loads TensorFlow.
"""
import os

from .errors import MissingDependencyError, require


def import_tf():
    """Import TensorFlow and Keras quietly; a clear error names the pip extra if missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = require("tensorflow", extra="train", feature="training and prediction with Keras models")
    keras = require("keras", extra="train", feature="Keras models")
    if int(keras.__version__.split(".")[0]) < 3:
        raise MissingDependencyError(
            f"fercsv needs Keras 3 (TensorFlow 2.16 or newer); found Keras {keras.__version__}; "
            "upgrade with: pip install -U 'tensorflow>=2.16'")
    return tf, keras


def cpu_flags():
    """CPU feature flags from /proc/cpuinfo (empty where unavailable)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pick_strategy():
    """``(strategy, device)``: TPUStrategy on a TPU, MirroredStrategy on several GPUs, else default."""
    tf, _ = import_tf()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver), "tpu"
    except (ValueError, RuntimeError, tf.errors.NotFoundError, AttributeError):
        pass
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"{len(gpus)} gpus"
    return tf.distribute.get_strategy(), "gpu" if gpus else "cpu"


def pick_precision(requested, device):
    """Resolve ``requested`` ("auto", "float32", "mixed_float16", "mixed_bfloat16") for ``device``.

    auto: float16 on GPUs, bfloat16 on TPUs and on CPUs with AMX tiles; float32
    elsewhere (on AVX-512-BF16 CPUs without AMX, bfloat16 measured slower here).

    >>> pick_precision("auto", "cpu") in ("float32", "mixed_bfloat16")
    True
    """
    aliases = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16", "fp32": "float32"}
    requested = aliases.get(requested, requested)
    if requested != "auto":
        if requested not in ("float32", "mixed_float16", "mixed_bfloat16"):
            raise ValueError(f"precision must be auto, float32, float16 or bfloat16, not {requested!r}")
        return requested
    if "gpu" in device:
        return "mixed_float16"
    if device == "tpu" or "amx_bf16" in cpu_flags():
        return "mixed_bfloat16"
    return "float32"
