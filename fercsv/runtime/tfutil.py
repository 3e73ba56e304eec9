"""TensorFlow on demand: quiet import, device strategy (one machine or a TF_CONFIG cluster), precision.

Only upper-floor modules call these, inside functions, so ``import fercsv``
never loads TensorFlow. TensorFlow's start-up chatter (absl, CUDA probes on a CPU
machine, cpu_feature_guard) is filtered out unless ``FERCSV_TF_LOGS=1``.
"""
import contextlib
import glob
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass

from ..core.errors import BadInputError, MissingDependencyError, require

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


#: /proc/cpuinfo flags of CPUs that compute in bfloat16 natively (``auto`` trains in bfloat16 there).
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


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


def pick_strategy(*, cluster=None, batch_size=None, out=print):
    """``(strategy, device)``: MultiWorkerMirroredStrategy for a ``cluster`` (see :func:`read_cluster`),
    else TPUStrategy on a TPU, one MirroredStrategy over the GPUs, or the default strategy.

    For a cluster it says in one line which strategy, how many workers, this worker's role and
    how ``batch_size`` (the global batch) splits over them; every worker must call it, and it
    returns once all of them have joined. When the runtime advertises a TPU that TensorFlow
    cannot reach, says in one line that training runs on the CPU and how to fix it.
    """
    tf, _ = import_tf()
    if cluster is not None:
        return _multi_worker_strategy(tf, cluster, batch_size, out)
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


# ---- several machines: TF_CONFIG and MultiWorkerMirroredStrategy -----------------------------

#: TensorFlow's environment variable describing a cluster of machines that train one model.
TF_CONFIG_ENV = "TF_CONFIG"

#: Task types that train under MultiWorkerMirroredStrategy; the chief (or worker 0) also writes RUN_DIR.
TRAINING_TASKS = ("chief", "worker")

_TF_CONFIG_SHAPE = ('{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                    '"task": {"type": "worker", "index": 0}}')


@dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster TF_CONFIG describes; ``rank`` 0 is the chief."""

    workers: int
    task_type: str
    task_index: int
    rank: int

    @property
    def chief(self) -> bool:
        """True for the one worker that writes RUN_DIR: task type chief, or worker 0 when there is none."""
        return self.rank == 0

    @property
    def role(self) -> str:
        """``"worker 0 (the chief)"``, ``"worker 1"``, ``"chief 0 (the chief)"``..."""
        return f"{self.task_type} {self.task_index}" + (" (the chief)" if self.chief else "")


def _bad_tf_config(problem):
    return BadInputError(f"{TF_CONFIG_ENV}: {problem}; set it to JSON like {_TF_CONFIG_SHAPE} with "
                         "task.index this machine's place in its list (the same cluster on every machine), "
                         "or unset it to train on one machine")


def read_cluster(environ=None):
    """The multi-worker :class:`Cluster` that ``TF_CONFIG`` describes, or None for one machine.

    A cluster of one worker is one machine. Bad JSON, tasks other than chief and worker, or a
    task outside the cluster raise BadInputError naming TF_CONFIG and the fix.

    >>> env = {"TF_CONFIG": '{"cluster": {"worker": ["a:2222", "b:2222"]}, "task": {"type": "worker", "index": 1}}'}
    >>> read_cluster(env)
    Cluster(workers=2, task_type='worker', task_index=1, rank=1)
    >>> read_cluster({}) is None
    True
    """
    text = (os.environ if environ is None else environ).get(TF_CONFIG_ENV, "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_tf_config(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise _bad_tf_config('no "cluster" object listing the workers')
    for kind, addresses in cluster.items():
        if kind not in TRAINING_TASKS:
            raise _bad_tf_config(f"the cluster has {kind!r} tasks, but MultiWorkerMirroredStrategy trains with "
                                 "'chief' and 'worker' tasks only")
        if not (isinstance(addresses, list) and addresses
                and all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise _bad_tf_config(f'cluster.{kind} must be a list of "host:port" strings, not {addresses!r}')
    chiefs = len(cluster.get("chief", []))
    if chiefs > 1:
        raise _bad_tf_config(f"cluster.chief lists {chiefs} addresses; give at most one")
    task = spec.get("task")
    kind, index = (task.get("type"), task.get("index", 0)) if isinstance(task, dict) else (None, None)
    if kind not in cluster:
        raise _bad_tf_config(f"task.type {kind!r} names no list of the cluster ({', '.join(cluster)})")
    size = len(cluster[kind])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise _bad_tf_config(f"task.index {index!r} is outside cluster.{kind}, which has {size} "
                             f"address{'es' if size > 1 else ''} (0..{size - 1})")
    workers = chiefs + len(cluster.get("worker", []))
    if workers < 2:
        return None
    return Cluster(workers, kind, index, index if kind == "chief" else chiefs + index)


_STRATEGIES = {}  # TF_CONFIG -> its MultiWorkerMirroredStrategy: TensorFlow allows one per process


def _multi_worker_strategy(tf, cluster, batch_size, out):
    with quiet_native_logs():
        gpus = tf.config.list_physical_devices("GPU")
    local = f"{len(gpus)} gpu{'s' if len(gpus) > 1 else ''}" if gpus else "cpu"
    split = (f"; the batch size {batch_size} is the global batch: {batch_size // cluster.workers} images per "
             "worker per step") if batch_size else ""
    out(f"MultiWorkerMirroredStrategy over {cluster.workers} workers ({TF_CONFIG_ENV}; "
        f"{'NCCL' if gpus else 'ring'} all-reduce): this is {cluster.role}, "
        + ("which alone writes RUN_DIR" if cluster.chief else "RUN_DIR is the chief's to write") + split)
    key = os.environ.get(TF_CONFIG_ENV, "")
    if key not in _STRATEGIES:
        impl = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(implementation=impl.NCCL if gpus else impl.RING)
        with quiet_native_logs():  # returns once every worker of the cluster has joined
            _STRATEGIES[key] = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return _STRATEGIES[key], f"{cluster.workers} workers x {local}"


def chief_value(strategy, value: int) -> int:
    """The chief's ``value``, on every worker (a collective: all workers call it together).

    Under a single-machine strategy it is ``value`` itself.
    """
    return _replica_sum(strategy, value, lambda ctx: ctx.replica_id_in_sync_group == 0)


def worker_sum(strategy, value: int, *, workers: int) -> int:
    """The sum over the workers of each one's ``value`` (a collective: all workers call it together)."""
    local = max(1, strategy.num_replicas_in_sync // workers)  # replicas (devices) per worker
    return _replica_sum(strategy, value, lambda ctx: ctx.replica_id_in_sync_group % local == 0)


def _replica_sum(strategy, value, counts):
    tf, _ = import_tf()
    values = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(int(value) if counts(ctx) else 0, tf.int64))
    return int(strategy.reduce("SUM", values, axis=None))


def weights_digest(model) -> str:
    """A short SHA-256 of a Keras model's weights, in order: equal digests mean equal weights.

    >>> import keras                                                         # doctest: +SKIP
    >>> weights_digest(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))  # doctest: +SKIP
    'sha256:...'
    """
    import numpy as np

    digest = hashlib.sha256()
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        digest.update(f"{w.dtype}{w.shape}".encode())
        digest.update(w.tobytes())
    return "sha256:" + digest.hexdigest()[:16]


def walk_layers(layer):
    """``layer`` and every layer inside it, depth first (a transfer backbone is a model inside the model)."""
    yield layer
    for inner in getattr(layer, "layers", ()):  # models nest their layers (a transfer backbone is a model)
        yield from walk_layers(inner)


@contextlib.contextmanager
def multi_worker_fit(model, strategy, element_spec):
    """Let ``model.fit``/``evaluate`` run under MultiWorkerMirroredStrategy with Keras 3.

    Keras 3 (3.15 here) fails there in two places (keras-team/keras#20585): it builds
    the model from a first batch reduced with ``strategy.reduce`` on a tuple, and it
    averages each step's logs with ``reduce(..., axis=0)`` on scalars; both raise
    once there are several workers. For the block, the model is built from the
    dataset's ``element_spec`` instead, and step logs are averaged over all workers
    (``axis=None``), so every worker sees the same logs. Epoch logs are Keras' own
    metric reads, already summed over the workers.

    Keras 3 BatchNormalization keeps its moving statistics per worker, so each worker
    would end with its own; the model's BatchNormalization layers are switched to
    ``synchronized`` (statistics of the global batch, as one machine computes them)
    for good, so that every worker holds the same model.
    """
    tf, keras = import_tf()
    try:
        import importlib

        keras_tf_trainer = importlib.import_module("keras.src.backend.tensorflow.trainer")
        original = keras_tf_trainer.reduce_per_replica
        build = model._symbolic_build
    except (ImportError, AttributeError) as exc:
        raise MissingDependencyError(
            f"multi-worker training adapts Keras 3's fit(), but Keras {keras.__version__} lacks what it adapts "
            f"({exc}); install a Keras 3 release up to 3.15: pip install 'keras>=3,<3.16'") from None

    def reduce_per_replica(values, strategy_, reduction="auto"):
        if strategy_ is not strategy or reduction not in ("auto", "mean"):
            return original(values, strategy_, reduction)
        return tf.nest.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=None) if isinstance(v, tf.distribute.DistributedValues)
            else v, values)

    def symbolic_build(iterator=None, data_batch=None):
        with strategy.scope():
            build(data_batch=element_spec)

    for layer in walk_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
    keras_tf_trainer.reduce_per_replica = reduce_per_replica
    vars(model)["_maybe_symbolic_build"] = symbolic_build
    try:
        yield model
    finally:
        keras_tf_trainer.reduce_per_replica = original
        vars(model).pop("_maybe_symbolic_build", None)


def pick_precision(requested, device):
    """Resolve ``requested`` (a key or value of :data:`PRECISIONS`) to a Keras policy for ``device``.

    auto: float16 on GPUs; bfloat16 on TPUs and on CPUs with bfloat16 arithmetic (AMX
    tiles, or AVX-512-BF16: fercnn trains 1.27x faster in bfloat16 than in float32 on a
    2-core AMD EPYC with AVX-512-BF16 and no AMX, and about 1.4x on a Xeon with AMX);
    float32 elsewhere (most Colab CPUs).

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
    if device == "tpu" or cpu_flags() & BF16_CPU_FLAGS:
        return "mixed_bfloat16"
    return "float32"


def check_precision(requested, *, func="train"):
    """The Keras policy named by ``requested`` (``"float16"`` or ``"mixed_float16"``...) or a clear error."""
    from ..core.checks import choice

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
