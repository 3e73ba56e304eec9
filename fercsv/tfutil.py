"""TensorFlow on demand: quiet import, device strategy, mixed-precision policy.

Only upper-floor modules call these, inside functions, so ``import fercsv``
never loads TensorFlow. TensorFlow's start-up chatter (absl, CUDA probes on a CPU
machine, cpu_feature_guard) is filtered out unless ``FERCSV_TF_LOGS=1``.
"""
import contextlib
import glob
import os
import re
import sys
import tempfile

from .errors import MissingDependencyError, require

#: Precision choices: name -> Keras dtype policy ("auto" picks per device, see :func:`pick_precision`).
PRECISIONS = {"auto": "auto", "float32": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}

#: Environment variable that lets TensorFlow's start-up logs through (for debugging).
TF_LOGS_ENV = "FERCSV_TF_LOGS"

# Lines TensorFlow's C++ runtime prints while starting, which read like errors but are not.
_CHATTER = re.compile(r"^([IWE]\d{4} [\d:. ]+\d+ \S+:\d+\]|WARNING: All log messages before absl|"
                      r"To enable the following instructions|.*rebuild TensorFlow with the appropriate|"
                      r"INFO: Created TensorFlow Lite)")


def tf_logs_wanted() -> bool:
    """True when the user asked to see TensorFlow's own logs (``FERCSV_TF_LOGS=1``)."""
    return os.environ.get(TF_LOGS_ENV, "").strip() not in ("", "0")


@contextlib.contextmanager
def quiet_native_logs():
    """Drop TensorFlow's C++ start-up lines from stderr for the duration; other lines pass through.

    The log level variable is set only while TensorFlow starts and is restored after.
    """
    if tf_logs_wanted():
        yield
        return
    key = "TF_CPP_MIN_LOG_LEVEL"
    before = os.environ.get(key)
    os.environ[key] = before or "3"
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some notebook kernels): nothing to filter
        saved = None
    capture = tempfile.TemporaryFile(mode="w+b") if saved is not None else None
    if capture is not None:
        os.dup2(capture.fileno(), 2)
    try:
        yield
    finally:
        if capture is not None:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not _CHATTER.match(line)]
            capture.close()
            if kept:
                print("\n".join(kept), file=sys.stderr)
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def import_tf():
    """Import TensorFlow and Keras quietly; a clear error names the pip extra if missing."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        tf, keras = sys.modules["tensorflow"], sys.modules["keras"]
    else:
        with quiet_native_logs():
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


def advertised_tpu():
    """What says this machine has a TPU (Colab/Cloud variables, /dev/accel*), or None.

    >>> advertised_tpu() is None or isinstance(advertised_tpu(), str)
    True
    """
    for var in ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE"):
        if os.environ.get(var):
            return f"{var}={os.environ[var]}"
    devices = sorted(glob.glob("/dev/accel*"))
    return devices[0] if devices else None


def _tpu_resolver(tf):
    """A connected TPU cluster resolver: the local TPU VM form first, then the older no-argument one."""
    errors = (ValueError, RuntimeError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError,
              AttributeError, TypeError)
    for kwargs in ({"tpu": "local"}, {}):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(**kwargs)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return resolver
        except errors:
            continue
    return None


def pick_strategy(*, out=print):
    """``(strategy, device)``: TPUStrategy on a TPU, one MirroredStrategy over the GPUs, else default.

    When the runtime advertises a TPU that TensorFlow cannot reach, says in one line that
    training runs on the CPU and how to fix it.
    """
    tf, _ = import_tf()
    with quiet_native_logs():
        hint = advertised_tpu()
        resolver = _tpu_resolver(tf) if hint else None
        if resolver is not None:
            return tf.distribute.TPUStrategy(resolver), "tpu"
        gpus = tf.config.list_physical_devices("GPU")
    if hint:
        out(f"a TPU is advertised ({hint}) but TensorFlow cannot reach it, so training runs on the CPU; "
            "install the TensorFlow build for TPUs (on Colab: Runtime > Change runtime type > TPU, then "
            "pip install tensorflow-tpu, or use a GPU runtime)")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"{len(gpus)} gpus"
    if gpus:
        return tf.distribute.OneDeviceStrategy("/gpu:0"), "gpu"
    return tf.distribute.get_strategy(), "cpu"


def pick_precision(requested, device):
    """Resolve ``requested`` (a key or value of :data:`PRECISIONS`) to a Keras policy for ``device``.

    auto: float16 on GPUs, bfloat16 on TPUs and on CPUs with AMX tiles; float32
    elsewhere (on AVX-512-BF16 CPUs without AMX, bfloat16 measured slower here).

    >>> pick_precision("auto", "cpu") in ("float32", "mixed_bfloat16")
    True
    >>> pick_precision("float16", "gpu")
    'mixed_float16'
    """
    policy = check_precision(requested)
    if policy != "auto":
        return policy
    if "gpu" in device:
        return "mixed_float16"
    if device == "tpu" or "amx_bf16" in cpu_flags():
        return "mixed_bfloat16"
    return "float32"


def check_precision(requested, *, func="train"):
    """The Keras policy named by ``requested`` (``"float16"`` or ``"mixed_float16"``...) or a clear error."""
    from .checks import choice

    if requested in PRECISIONS.values():
        return requested
    return PRECISIONS[choice(func, "precision", requested, PRECISIONS)]


@contextlib.contextmanager
def precision_policy(policy):
    """Set Keras' global dtype policy for the block; the previous policy is restored on any exit."""
    _, keras = import_tf()
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
