"""Train a facial-expression CNN into a RUN_DIR that survives a killed runtime.

RUN_DIR holds best.keras, last.keras (with the optimizer state), state.json,
history.csv, labels.json, config.json, curves.png and, when the run ends,
done.json plus the evaluation reports. Running the same call again resumes
after the last completed epoch; a finished run is not trained again.

Each epoch ends with one commit: its model files are written under staging names,
then ``state.json`` (epoch count, history rows, best score) is replaced atomically,
then the staged files are renamed into place and ``history.csv`` is redrawn from the
state. A process killed at any instant leaves either the old or the new epoch, never
a mix, and a row shown in ``history.csv`` is never trained again.

With ``TF_CONFIG`` describing a cluster, every machine runs the same call and they
train one model (MultiWorkerMirroredStrategy, ``batch_size`` the global batch); the
chief alone writes RUN_DIR, which must be on storage all machines share under one path.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..core.version import __version__ as fercsv_version
from ..core import checks
from ..core.atomic import atomic_path, write_json
from ..data.dataset import FERDataset
from ..core.errors import BadInputError, FercsvError, first_line
from ..data.labels import USAGES
from ..data.split import BALANCE_METHODS, balance, class_weights, split

TRAINING, VALIDATION, TEST = USAGES

#: Learning-rate schedules: cosine decay after a linear warm-up, or halving on a validation plateau.
SCHEDULES = ("cosine", "plateau")

#: Optimizers: AdamW (the CPU default), or SGD with Nesterov momentum 0.9 (the published VGG recipes).
OPTIMIZERS = ("adamw", "sgd")

#: Settings added after RUN_DIRs already existed: an older config.json without them means the default.
ADDED_SETTINGS = ("optimizer", "mixup", "erasing", "ema")

#: Class weighting of the loss (None: unweighted): "balanced" weighs classes by inverse frequency.
CLASS_WEIGHTS = ("balanced",)

#: Train-minus-validation accuracy (points of 1.0) from which a run is said to over-fit.
OVERFIT_GAP = 0.08

#: Test hook: ``FERCSV_CRASH_AT=<point>:<epoch>`` ends the process at that instant of an epoch's
#: commit (points: staged, committed, renamed-last, published), to prove resuming is safe.
CRASH_ENV = "FERCSV_CRASH_AT"


@dataclass
class TrainConfig:
    """Every setting of a run; stored in config.json so a resumed run can check it.

    The options of :func:`train` are its fields; ``check`` validates them all at once
    (no TensorFlow needed), before a run writes anything:

    >>> config = TrainConfig(model="seed-cnn", epochs=5, tta=True).check()
    >>> config.batch_size, config.optimizer, config.tta
    (64, 'adamw', 'flip')
    >>> TrainConfig(epochs=0).check()
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: train: epochs (CLI --epochs) must be an integer >= 1; got 0
    """

    model: str = "fercnn"
    backbone: str = None
    weights: str = None
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    schedule: str = "cosine"
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    weight_decay: float = 1e-4
    augment: bool = True
    optimizer: str = "adamw"
    mixup: float = 0.0
    erasing: float = 0.0
    ema: float = 0.0
    class_weight: str = None
    balance: str = None
    patience: int = 10
    precision: str = "auto"
    seed: int = 0
    time_limit_minutes: float = None
    tta: str = "flip+zoom+rotate"

    def key(self):
        """Settings that must match for a run to be resumed (all but the run-time knobs)."""
        runtime = ("patience", "precision", "time_limit_minutes", "tta")
        return {k: v for k, v in asdict(self).items() if k not in runtime}

    def check(self):
        """Raise BadInputError naming the first bad setting; returns self with TTA normalised."""
        from .evaluation import tta_mode
        from .models import check_model
        from ..runtime.tfutil import check_precision

        check_model(self.model, self.backbone, self.weights)
        checks.integer("train", "epochs", self.epochs, minimum=1)
        checks.integer("train", "batch_size", self.batch_size, minimum=1)
        checks.number("train", "lr", self.lr, above=0)
        checks.choice("train", "schedule", self.schedule, SCHEDULES)
        checks.integer("train", "warmup_epochs", self.warmup_epochs, minimum=0)
        checks.number("train", "label_smoothing", self.label_smoothing, minimum=0, below=1)
        checks.number("train", "weight_decay", self.weight_decay, minimum=0)
        checks.choice("train", "augment", self.augment, (True, False))
        checks.choice("train", "optimizer", self.optimizer, OPTIMIZERS)
        checks.number("train", "mixup", self.mixup, minimum=0)
        checks.number("train", "erasing", self.erasing, minimum=0, maximum=1)
        checks.number("train", "ema", self.ema, minimum=0, below=1)
        checks.choice("train", "class_weight", self.class_weight, (None, *CLASS_WEIGHTS))
        checks.choice("train", "balance", self.balance, (None, *BALANCE_METHODS))
        checks.integer("train", "patience", self.patience, minimum=0)
        check_precision(self.precision)
        checks.seed("train", self.seed)
        checks.number("train", "time_limit_minutes", self.time_limit_minutes, above=0, optional=True)
        self.tta = tta_mode(self.tta)
        return self


@dataclass
class TrainResult:
    """Where a run lives, what it reached, and how well it fits."""

    run_dir: str
    epochs_run: int
    best_epoch: int
    best_val_accuracy: float
    test_accuracy: float = None
    resumed_from: int = 0
    seconds: float = 0.0
    files: dict = field(default_factory=dict)
    train_accuracy: float = None
    fit: str = ""
    cluster: str = ""
    weights: str = None

    @property
    def gap(self):
        """Training minus validation accuracy at the best epoch (None when unknown)."""
        return None if self.train_accuracy is None else self.train_accuracy - self.best_val_accuracy

    def __str__(self):
        lines = [f"run {self.run_dir}: {self.epochs_run} epochs"
                 + (f" (resumed at epoch {self.resumed_from + 1})" if self.resumed_from else "")
                 + f", best validation accuracy {self.best_val_accuracy:.2%} at epoch {self.best_epoch}"]
        if self.gap is not None:
            lines.append(f"training accuracy {self.train_accuracy:.2%} at that epoch: a gap of "
                         f"{self.gap * 100:+.1f} points to validation")
        if self.fit:
            lines.append(self.fit)
        if self.test_accuracy is not None:
            lines.append(f"test (PrivateTest) accuracy of the best model: {self.test_accuracy:.2%}")
        if self.cluster:
            lines.append(f"trained as {self.cluster}" + (f"; final weights {self.weights}" if self.weights else "")
                         + ("" if "the chief" in self.cluster else "; RUN_DIR and its reports are the chief's"))
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def diagnose_fit(history, best_epoch, epochs_planned):
    """One plain sentence on under- or over-fitting, from the history rows.

    >>> rows = [{"epoch": 0, "accuracy": 0.9, "val_accuracy": 0.6}]
    >>> diagnose_fit(rows, 1, 1).split(":")[0]
    'over-fits'
    """
    if not history or best_epoch < 1:
        return ""
    row = history[best_epoch - 1]
    train_acc, val_acc = row.get("accuracy"), row.get("val_accuracy")
    if train_acc is None or val_acc is None:
        return ""
    gap = train_acc - val_acc
    if gap >= OVERFIT_GAP:
        return (f"over-fits: training accuracy is {gap * 100:.1f} points above validation; try more "
                "augmentation, --label-smoothing 0.2, a larger --weight-decay, --balance, or more data")
    still_rising = best_epoch >= len(history) and len(history) >= epochs_planned
    if still_rising:
        return ("under-fits: validation accuracy was still rising at the last epoch and training accuracy "
                f"is within {max(gap, 0) * 100:.1f} points of it; train longer (--epochs), or try a "
                "larger model (--backbone) or a higher --lr")
    return (f"fits: the gap between training and validation accuracy is {gap * 100:.1f} points and "
            "validation stopped improving before the end")


def _versions():
    out = {"python": platform.python_version(), "fercsv": fercsv_version, "numpy": np.__version__}
    try:
        from ..runtime.tfutil import import_tf

        tf, keras = import_tf()
        out.update(tensorflow=tf.__version__, keras=keras.__version__)
    except ImportError:
        pass
    return out


def _prepare_data(data, config, out):
    """The dataset to train on, checked before anything is written."""
    from ..data.convert import load_data

    ds = load_data(data)
    ds = ds.subset(ds.labels >= 0)
    if not (ds.usage == TRAINING).any():
        raise BadInputError(f"{ds.source}: no Training rows; assign Usage with 'fercsv split'")
    if ds.subset(TRAINING).targets() is not None and config.class_weight:
        raise BadInputError("class_weight cannot be combined with soft targets (p_<label> columns); "
                            "drop one of them")
    if not (ds.usage == VALIDATION).any():
        out("no PublicTest rows: holding out 10% of Training (stratified) for validation")
        train_rows = ds.subset(ds.usage == TRAINING)
        held = split(train_rows, val=0.1, test=0.0, seed=config.seed, existing="replace")
        others = ds.subset(ds.usage != TRAINING)
        extra = {k: np.concatenate([np.asarray(held.extra[k]), np.asarray(others.extra[k])])
                 for k in held.extra if k in others.extra}
        ds = FERDataset(np.concatenate([held.images, others.images]),
                        np.concatenate([held.labels, others.labels]),
                        np.concatenate([held.usage, others.usage]), ds.label_names, source=ds.source,
                        extra=extra)
    if config.balance:
        ds = balance(ds, method=config.balance, seed=config.seed)
    return ds


# ---- the epoch commit -------------------------------------------------------------------------

def _crash_point(point, epoch):
    if os.environ.get(CRASH_ENV) == f"{point}:{epoch}":
        os._exit(86)


def _staged(name, epoch):
    return f".{Path(name).stem}-epoch{epoch:05d}.keras"


def _save_model(model, path):
    with atomic_path(path) as tmp:
        target = tmp.with_name(tmp.name + ".keras")
        model.save(target)
        target.replace(tmp)


def _columns(history):
    keys = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    return {k: [row.get(k, np.nan) for row in history] for k in keys}


def _write_history(path, history):
    import pandas as pd

    with atomic_path(path) as tmp:
        pd.DataFrame(_columns(history)).to_csv(tmp, index=False)


def _fresh_state():
    return {"epochs_done": 0, "best": -1.0, "best_epoch": 0, "wait": 0, "history": [], "pending": {}}


def _legacy_state(run_dir, state):
    """A RUN_DIR written before the epoch commit: epochs as its Keras backup recorded them."""
    import pandas as pd

    meta = run_dir / "backup" / "training_metadata.json"
    done = int(json.loads(meta.read_text()).get("epoch", 0)) if meta.is_file() else 0
    rows = pd.read_csv(run_dir / "history.csv").to_dict("records") if (run_dir / "history.csv").is_file() else []
    fresh = _fresh_state()
    fresh.update({k: state[k] for k in ("best", "best_epoch", "wait") if k in state})
    fresh.update(epochs_done=min(done, len(rows)), history=rows[:min(done, len(rows))])
    return fresh


def _load_state(run_dir):
    """The committed state of RUN_DIR, read only (an older RUN_DIR's read as its Keras backup says)."""
    path = run_dir / "state.json"
    state = json.loads(path.read_text()) if path.is_file() else _fresh_state()
    return state if "epochs_done" in state else _legacy_state(run_dir, state)


def recover(run_dir) -> dict:
    """Bring RUN_DIR to its last committed epoch and return that state (see the module docstring).

    Staged files of a committed epoch are renamed into place; staged files of an epoch
    that never committed are deleted; history.csv is rewritten from the state.
    """
    run_dir = Path(run_dir)
    state = _load_state(run_dir)
    for final, staged in state.get("pending", {}).items():
        if (run_dir / staged).is_file():
            os.replace(run_dir / staged, run_dir / final)
    state["pending"] = {}
    for leftover in run_dir.glob(".*-epoch[0-9]*.keras"):
        leftover.unlink()
    if state["epochs_done"] and not (run_dir / "last.keras").is_file():
        raise BadInputError(f"{run_dir}: last.keras of epoch {state['epochs_done']} is missing, so the run "
                            "cannot resume; use restart=True (CLI --restart) or a new RUN_DIR")
    if state["history"]:
        _write_history(run_dir / "history.csv", state["history"])
    return state


def commit_epoch(run_dir, model, state, row, *, improved):
    """Record one finished epoch so that a kill at any instant leaves a consistent RUN_DIR.

    last.keras holds the weights being trained (and the optimizer state) to resume from;
    best.keras holds the weights that were validated: their moving average when the
    optimizer keeps one (``ema``).
    """
    epoch = int(row["epoch"])
    pending = {"last.keras": _staged("last", epoch)}
    _save_model(model, run_dir / pending["last.keras"])
    if improved:
        pending["best.keras"] = _staged("best", epoch)
        with averaged_weights(model):
            _save_model(model, run_dir / pending["best.keras"])
    _crash_point("staged", epoch)
    state["history"] = state["history"] + [row]
    state["epochs_done"] = epoch + 1
    state["pending"] = pending
    write_json(run_dir / "state.json", state)
    _crash_point("committed", epoch)
    os.replace(run_dir / pending["last.keras"], run_dir / "last.keras")
    _crash_point("renamed-last", epoch)
    if improved:
        os.replace(run_dir / pending["best.keras"], run_dir / "best.keras")
    _crash_point("published", epoch)
    _write_history(run_dir / "history.csv", state["history"])


def _averaging_optimizer(model):
    """The model's optimizer when it has built a moving average of the weights (``ema``), else None."""
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # a float16 loss-scale wrapper delegates to it
    return optimizer if getattr(inner, "use_ema", False) and getattr(inner, "built", False) else None


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block the model holds the optimizer's moving average of its weights (``ema``).

    The trained weights are put back on any exit; without averages this does nothing.
    """
    optimizer = _averaging_optimizer(model)
    variables = model.trainable_variables if optimizer is not None else []
    trained = [variable.numpy() for variable in variables]
    if optimizer is not None:
        optimizer.finalize_variable_values(variables)  # Keras' own copy of the averages into the model
    try:
        yield model
    finally:
        for variable, value in zip(variables, trained):
            variable.assign(value)


class _Recorder:
    """Keras callback factory: the epoch commit, curves, early stopping and a time limit.

    With a weight average (``ema``) validation scores the averaged weights, which best.keras keeps.
    """

    def __new__(cls, keras, run_dir, config, state, t_start, out, *, strategy=None, chief=True):
        class Recorder(keras.callbacks.Callback):
            def on_test_begin(self, logs=None):
                self._averaged = contextlib.ExitStack()
                self._averaged.enter_context(averaged_weights(self.model))

            def on_test_end(self, logs=None):
                self._averaged.close()

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.time()

            def on_epoch_end(self, epoch, logs=None):
                row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
                lr = self.model.optimizer.learning_rate
                row["lr"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
                val = row.get("val_accuracy", row.get("accuracy", 0.0))
                improved = val > state["best"] + 1e-6
                if improved:
                    state.update(best=val, best_epoch=epoch + 1, wait=0)
                else:
                    state["wait"] += 1
                state["epoch_minutes"] = (time.time() - self._t) / 60
                limit = config.time_limit_minutes
                # Stop when another epoch like this one would not fit in the time limit.
                stop = ((1 if config.patience and state["wait"] >= config.patience else 0)
                        | (2 if limit and (time.time() - t_start) / 60 + state["epoch_minutes"] > limit else 0))
                if strategy is not None:  # several workers stop together, when the chief's clock says so
                    from ..runtime.tfutil import chief_value

                    stop = chief_value(strategy, stop)
                if stop & 1:
                    out(f"early stopping after epoch {epoch + 1}: no validation gain for {config.patience} epochs")
                    state["stopped_early"] = True
                    self.model.stop_training = True
                if stop & 2:
                    out(f"time limit of {limit} minutes reached after epoch {epoch + 1}")
                    state["time_limited"] = True
                    self.model.stop_training = True
                commit_epoch(run_dir, self.model, state, row, improved=improved)
                if not chief:
                    return
                try:
                    from .plots import plot_curves

                    plot_curves(_columns(state["history"]), run_dir / "curves.png")
                except Exception as exc:  # plots are a convenience; never lose a run to them
                    out(f"(could not draw curves.png: {type(exc).__name__}: {exc})")

        return Recorder()


# ---- train ------------------------------------------------------------------------------------

def _open_run_dir(run_dir, config, restart, out):
    """Check RUN_DIR against the settings (read-only): a stored result, a mismatch, or go ahead."""
    if run_dir.exists() and not run_dir.is_dir():
        raise BadInputError(f"{run_dir}: exists and is not a folder; give a folder as RUN_DIR (CLI --out)")
    cfg_path, done = run_dir / "config.json", run_dir / "done.json"
    if restart:
        return None
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text()).get("settings", {})
        # settings added in later versions are absent from older RUN_DIRs: those ran with the default
        old = {**{k: v for k, v in asdict(TrainConfig()).items() if k in ADDED_SETTINGS}, **old} if old else old
        if old and old != config.key():
            diff = {k: (old.get(k), v) for k, v in config.key().items() if old.get(k) != v}
            raise FercsvError(f"{run_dir} holds a run with other settings ({diff}); "
                              "use a new RUN_DIR, the same settings, or restart=True (CLI --restart)")
    if done.is_file():
        known = {f.name for f in fields(TrainResult)}
        result = TrainResult(**{k: v for k, v in json.loads(done.read_text()).items() if k in known})
        out(f"{run_dir} already finished; not training again (restart=True to start over)")
        return result
    return None


def _clear(run_dir):
    for name in ("done.json", "state.json", "history.csv", "best.keras", "last.keras"):
        (run_dir / name).unlink(missing_ok=True)
    for leftover in run_dir.glob(".*-epoch[0-9]*.keras"):
        leftover.unlink()
    shutil.rmtree(run_dir / "backup", ignore_errors=True)


#: Training steps run per call into TensorFlow, which saves Keras' per-step Python round trip (it
#: matters on fast accelerators; on the 2-core CPU here the model dominates and the two are level:
#: 199 vs 198 images/s, benchmarks/bench_train.py).
STEPS_PER_EXECUTION = 16


def steps_per_execution(steps: int, most: int = STEPS_PER_EXECUTION) -> int:
    """The largest divisor of ``steps`` (per epoch) up to ``most``.

    Keras runs whole executions: a size that does not divide the epoch would run into the next
    epoch's batches, shifting the per-epoch shuffling and the schedule a resumed run relies on.

    >>> steps_per_execution(448), steps_per_execution(23), steps_per_execution(30), steps_per_execution(3)
    (16, 1, 15, 3)
    """
    return max(d for d in range(1, min(most, steps) + 1) if steps % d == 0)


def _compile(keras, net, config, steps):
    total = max(1, steps * config.epochs)
    warm = min(steps * config.warmup_epochs, total // 2)
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            config.lr * 0.1 if warm else config.lr, decay_steps=max(1, total - warm),
            alpha=0.01, warmup_target=config.lr if warm else None, warmup_steps=warm)
    else:
        rate = config.lr
    average = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=config.weight_decay,
                                         **average)
    else:
        optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay, **average)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    net.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return net


def train(data: str | Path | FERDataset, out_dir: str | Path, *, model: str = "fercnn", epochs: int = 40,
          batch_size: int = 64, lr: float = 1e-3, restart: bool = False, out=print, verbose="auto",
          **options) -> TrainResult:
    """Train a model on ``data`` (CSV, image folder or archive, or FERDataset) into ``out_dir`` (the RUN_DIR).

    Trains on Training rows, selects on PublicTest (10% of Training when
    absent), and reports PrivateTest at the end if present. Options are the
    fields of :class:`TrainConfig`; all are checked before anything is written.
    Calling again with the same settings after an interruption resumes; after
    completion it returns the stored result. When ``TF_CONFIG`` describes a cluster,
    run the same call on every machine (see the module docstring).

    One quick epoch of the small tutorial CNN on synthetic faces (the README's runs use
    the default ``fercnn`` for 40 epochs):

    >>> import fercsv, os, tempfile
    >>> run = os.path.join(tempfile.mkdtemp(), "run")
    >>> faces = fercsv.synth_dataset(per_class=4)
    >>> result = fercsv.train(faces, run, model="seed-cnn", epochs=1, precision="float32", tta=False,
    ...                       verbose=0, out=lambda message: None)
    >>> result.epochs_run, result.test_accuracy is not None
    (1, True)
    >>> sorted(os.listdir(run))                              # doctest: +NORMALIZE_WHITESPACE
    ['best.keras', 'config.json', 'confusion.png', 'curves.png', 'done.json', 'history.csv',
     'labels.json', 'last.keras', 'report.json', 'state.json']
    >>> _ = fercsv.train(faces, run, model="seed-cnn", epochs=1, precision="float32", tta=False)  # doctest: +ELLIPSIS
    /...run already finished; not training again (restart=True to start over)
    """
    from ..runtime.tfutil import read_cluster

    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise BadInputError(f"train: unknown option {unknown[0]!r}; options are "
                            f"{', '.join(sorted(known - {'model', 'epochs', 'batch_size', 'lr'}))}")
    config = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=lr, **options).check()
    checks.choice("train", "restart", restart, (True, False))
    cluster = read_cluster()
    if cluster and config.batch_size % cluster.workers:
        low = config.batch_size // cluster.workers * cluster.workers
        raise BadInputError(f"train: batch_size (CLI --batch-size) {config.batch_size} is the global batch and "
                            f"must split evenly over the {cluster.workers} workers of TF_CONFIG; use "
                            + (f"{low} or " if low else "") + f"{low + cluster.workers}")
    run_dir = Path(out_dir)
    stored = _open_run_dir(run_dir, config, restart, out)
    if stored is not None:
        return stored
    t_start = time.time()
    ds = _prepare_data(data, config, out)

    from ..runtime.tfutil import import_tf, pick_precision, pick_strategy, precision_policy

    tf, keras = import_tf()
    strategy, device = pick_strategy(cluster=cluster, batch_size=config.batch_size, out=out)
    chief = cluster is None or cluster.chief
    label_names = list(ds.label_names)
    train_ds, val_ds = ds.subset(TRAINING), ds.subset(VALIDATION)
    with _cluster_errors(tf, cluster):
        precision = pick_precision(config.precision, device)
        if cluster:
            precision = _chief_precision(strategy, precision)
        # Everything is known to be good: from here on RUN_DIR is written (by the chief alone).
        if chief:
            run_dir.mkdir(parents=True, exist_ok=True)
            if restart:
                _clear(run_dir)
            write_json(run_dir / "labels.json", label_names)
            write_json(run_dir / "config.json", {
                "settings": config.key(), "all_settings": asdict(config), "device": device,
                "precision": precision, "data": str(ds.source), "label_names": label_names,
                "n_train": len(train_ds), "n_val": len(val_ds), "versions": _versions()})
            state = recover(run_dir)
        if cluster:
            state = _chief_state(strategy, cluster, run_dir, state if chief else None)
        first_epoch = state["epochs_done"]
        finished = first_epoch >= config.epochs or state.get("stopped_early") or state.get("time_limited")
        if first_epoch and not finished:
            out(f"resuming {run_dir} at epoch {first_epoch + 1} of {config.epochs}")
        digest = None
        with precision_policy(precision):
            if not finished:
                with _commit_dir(run_dir, chief) as commit_dir:
                    digest = _fit(tf, keras, strategy, run_dir, config, state, train_ds, val_ds, len(label_names),
                                  t_start, out, verbose, device, precision, cluster=cluster, commit_dir=commit_dir)
    result = _finish(run_dir, ds, config, state, first_epoch, t_start, chief=chief)
    if cluster:
        result.cluster = f"{cluster.role} of {cluster.workers} workers (MultiWorkerMirroredStrategy)"
        result.weights = digest
    if chief:
        write_json(run_dir / "done.json", {**asdict(result), "gap": result.gap})
    return result


# ---- several machines -------------------------------------------------------------------------

#: TensorFlow errors that mean a worker of the cluster stopped or cannot be reached.
_CLUSTER_FAULTS = ("UnavailableError", "AbortedError", "CancelledError", "DeadlineExceededError")

# Words of the line of such an error that says what happened (the first lines are graph details).
_FAULT_WORDS = re.compile(r"abort|unhealthy|heartbeat|socket|connect|unavailable|preempt|peer|closed", re.I)


@contextlib.contextmanager
def _cluster_errors(tf, cluster):
    """A worker lost in the middle of multi-worker training becomes one line saying how to resume."""
    if cluster is None:
        yield
        return
    faults = tuple(getattr(tf.errors, name) for name in _CLUSTER_FAULTS)
    try:
        yield
    except faults as exc:
        raise FercsvError(f"{cluster.role}: training stopped because the cluster lost a worker "
                          f"({type(exc).__name__}: {_fault_reason(exc)}); start the same command on every machine "
                          "again to resume after the last epoch the chief committed to RUN_DIR") from None


def _fault_reason(exc):
    """The line of a TensorFlow error that says what happened to the cluster (they start with graph details)."""
    lines = [re.sub(r"^(\{\{[^}]*\}\}\s*)+", "", line).strip() for line in str(exc).splitlines()]
    telling = [line for line in lines if _FAULT_WORDS.search(line)]
    return (telling or [first_line(exc)])[0][:200]


def _chief_precision(strategy, precision):
    """The chief's precision policy, so that workers on different CPUs compute alike."""
    from ..runtime.tfutil import PRECISIONS, chief_value

    policies = [p for p in dict.fromkeys(PRECISIONS.values()) if p != "auto"]
    return policies[chief_value(strategy, policies.index(precision))]


def _chief_state(strategy, cluster, run_dir, state):
    """Every worker's state: the chief's recovered RUN_DIR, read by the others once the chief is past recovery.

    The first collective waits for the chief's recovery and tells everyone its epoch; a worker
    whose view of RUN_DIR differs (storage not shared) makes every worker stop with one line.
    """
    from ..runtime.tfutil import chief_value, worker_sum

    epochs = chief_value(strategy, state["epochs_done"] if cluster.chief else 0)
    if not cluster.chief:
        state = _load_state(run_dir)
        state["pending"] = {}  # the chief has put the staged files in place
    differ = worker_sum(strategy, int(state["epochs_done"] != epochs), workers=cluster.workers)
    if differ:
        raise FercsvError(f"{run_dir}: {differ} of {cluster.workers} workers see another RUN_DIR than the chief "
                          f"(which has {epochs} epochs committed); put RUN_DIR on storage every machine shares "
                          "(NFS, a mounted bucket) under the same path, then run the same command on each")
    return state


@contextlib.contextmanager
def _commit_dir(run_dir, chief):
    """Where this worker's epoch commits go: RUN_DIR on the chief; elsewhere a private scratch folder.

    Every worker saves the model at the same points, as MultiWorkerMirroredStrategy asks of
    ``model.save``; what the other workers save goes to the scratch folder, deleted at the end.
    """
    if chief:
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix="fercsv-worker-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _worker_batches(strategy, train_ds, config, first_epoch, n_classes, weights):
    """This worker's share of every global batch (same seed everywhere), and its element spec."""
    from .pipeline import global_batch, train_dataset

    soft = train_ds.targets()
    specs = []

    def per_worker(ctx):
        k, parts = ctx.input_pipeline_id, ctx.num_input_pipelines
        data, _ = train_dataset(train_ds.images, train_ds.labels if soft is None else soft,
                                batch_size=config.batch_size, seed=config.seed, first_epoch=first_epoch,
                                epochs=config.epochs, augment=config.augment, n_classes=n_classes,
                                mixup=config.mixup, aug_options={"erasing": config.erasing}, part=(k, parts),
                                class_weight=weights)
        devices = ctx.num_replicas_in_sync // parts
        if devices > 1:  # several GPUs on this worker: one piece of the share per device, in turn
            share = global_batch(len(train_ds), config.batch_size, parts) // parts
            data = data.rebatch([share // devices + (i < share % devices) for i in range(devices)])
        specs.append(data.element_spec)
        return data

    return strategy.distribute_datasets_from_function(per_worker), specs[0]


def _fit(tf, keras, strategy, run_dir, config, state, train_ds, val_ds, n_classes, t_start, out, verbose,
         device, precision, *, cluster=None, commit_dir=None):
    """Build or reload the model and fit it; on a cluster returns the digest of the final weights."""
    from .fusedbn import fuse_batch_norm
    from .models import build_model, load_for_training
    from .pipeline import eval_dataset, global_batch, train_dataset
    from .plateau import plateau_halving
    from .seeding import epoch_seeds
    from ..runtime.tfutil import multi_worker_fit, weights_digest

    first_epoch = state["epochs_done"]
    soft = train_ds.targets()
    weights = class_weights(train_ds.labels, n_classes=n_classes) if config.class_weight == "balanced" else None
    data_val = eval_dataset(val_ds.images, val_ds.labels, batch_size=256)
    if cluster:
        data_train, spec = _worker_batches(strategy, train_ds, config, first_epoch, n_classes, weights)
        steps = len(train_ds) // global_batch(len(train_ds), config.batch_size, cluster.workers)
        options = tf.data.Options()  # validation: each worker scores its share of each batch
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        data_val = data_val.with_options(options)
    else:
        data_train, steps = train_dataset(train_ds.images, train_ds.labels if soft is None else soft,
                                          batch_size=config.batch_size, seed=config.seed, first_epoch=first_epoch,
                                          epochs=config.epochs, augment=config.augment, n_classes=n_classes,
                                          mixup=config.mixup, aug_options={"erasing": config.erasing})
    with strategy.scope():
        if first_epoch:
            net = load_for_training(run_dir / "last.keras", policy=precision)  # weights and optimizer state
        else:
            keras.utils.set_random_seed(config.seed)  # the same seed starts from the same weights
            net = build_model(config.model, input_shape=train_ds.image_shape + (1,), n_classes=n_classes,
                              backbone=config.backbone, weights=config.weights)
            _compile(keras, net, config, steps)
    # Not saved with the model, so a resumed run gets it too; one worker's fit keeps Keras' default.
    net.steps_per_execution = 1 if cluster else steps_per_execution(steps)
    if strategy.num_replicas_in_sync == 1:  # one device: batch normalisation as one fused op (1.2-1.4x)
        fuse_batch_norm(net)
    one_hot = lambda x, y: (x, tf.one_hot(y, n_classes))  # noqa: E731  (validation batches)
    callbacks = [_Recorder(keras, commit_dir or run_dir, config, state, t_start, out,
                           strategy=strategy if cluster else None, chief=cluster is None or cluster.chief)]
    if not cluster:  # dropout draws from (seed, epoch): a resumed run draws what an unbroken one would
        callbacks.insert(0, epoch_seeds(keras, seed=config.seed))
    if config.schedule == "plateau":
        callbacks.append(plateau_halving(keras, monitor="val_accuracy", patience=max(2, config.patience // 3),
                                         history=state["history"]))  # resumes its count of flat epochs
    out(f"training {config.backbone or config.model} on {len(train_ds)} images ({n_classes} classes), "
        f"validating on {len(val_ds)}; {device}, {precision}, {config.epochs} epochs of {steps} steps"
        f"{f' ({net.steps_per_execution} per call)' if net.steps_per_execution > 1 else ''}")
    if soft is not None:
        out("learning from soft targets (p_<label> columns); validation scores the majority label")
    with multi_worker_fit(net, strategy, spec) if cluster else contextlib.nullcontext():
        net.fit(data_train, validation_data=data_val.map(one_hot), epochs=config.epochs, initial_epoch=first_epoch,
                steps_per_epoch=steps, class_weight=None if cluster else weights, callbacks=callbacks,
                shuffle=False, verbose=verbose if verbose != "auto" else _verbosity())
    return weights_digest(net) if cluster else None


def _finish(run_dir, ds, config, state, first_epoch, t_start, *, chief=True):
    if chief and state.get("pending"):  # the last commit's renames are done; its staging names are history
        state["pending"] = {}
        write_json(run_dir / "state.json", state)
    history = state["history"]
    result = TrainResult(str(run_dir), len(history), int(state["best_epoch"]), float(state["best"]),
                         resumed_from=first_epoch, seconds=round(time.time() - t_start, 1))
    if state["best_epoch"]:
        result.train_accuracy = history[state["best_epoch"] - 1].get("accuracy")
    result.fit = diagnose_fit(history, int(state["best_epoch"]), config.epochs)
    result.files = {"best": str(run_dir / "best.keras"), "curves": str(run_dir / "curves.png"),
                    "history": str(run_dir / "history.csv")}
    if not chief:
        return result
    if (ds.usage == TEST).any() and (run_dir / "best.keras").is_file():
        from .evaluation import evaluate

        report = evaluate(run_dir, ds, split=TEST, tta=config.tta, out_dir=run_dir)
        result.test_accuracy = report.accuracy
        result.files.update(report.files)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)  # a Keras backup left by fercsv < 0.2
    return result


def _verbosity():
    import sys

    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            return 1
    except ImportError:
        pass
    return 1 if sys.stdout.isatty() else 2
