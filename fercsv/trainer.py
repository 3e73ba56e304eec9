"""Train a facial-expression CNN into a RUN_DIR that survives a killed runtime.

RUN_DIR holds best.keras, last.keras, a Keras BackupAndRestore state,
history.csv, labels.json, config.json, curves.png and, when the run ends,
done.json plus the evaluation reports. Running the same call again resumes
from the last completed epoch; a finished run is not trained again.
"""
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__ as fercsv_version
from .atomic import atomic_path
from .dataset import FERDataset, read_csv
from .errors import BadInputError, FercsvError
from .split import balance, class_weights, split


@dataclass
class TrainConfig:
    """Every setting of a run; stored in config.json so a resumed run can check it."""

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
    class_weight: str = None
    balance: str = None
    patience: int = 10
    precision: str = "auto"
    seed: int = 0
    time_limit_minutes: float = None
    tta: str = "flip+zoom"

    def key(self):
        """Settings that must match for a run to be resumed (all but the run-time knobs)."""
        runtime = ("patience", "precision", "time_limit_minutes", "tta")
        return {k: v for k, v in asdict(self).items() if k not in runtime}


@dataclass
class TrainResult:
    """Where a run lives and what it reached."""

    run_dir: str
    epochs_run: int
    best_epoch: int
    best_val_accuracy: float
    test_accuracy: float = None
    resumed_from: int = 0
    seconds: float = 0.0
    files: dict = field(default_factory=dict)

    def __str__(self):
        lines = [f"run {self.run_dir}: {self.epochs_run} epochs"
                 + (f" (resumed at epoch {self.resumed_from})" if self.resumed_from else "")
                 + f", best validation accuracy {self.best_val_accuracy:.2%} at epoch {self.best_epoch}"]
        if self.test_accuracy is not None:
            lines.append(f"test (PrivateTest) accuracy of the best model: {self.test_accuracy:.2%}")
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=str))


def _versions():
    out = {"python": platform.python_version(), "fercsv": fercsv_version, "numpy": np.__version__}
    try:
        import keras
        import tensorflow as tf

        out.update(tensorflow=tf.__version__, keras=keras.__version__)
    except ImportError:
        pass
    return out


def _prepare_data(data, config, out):
    ds = data if isinstance(data, FERDataset) else read_csv(data)
    ds = ds.subset(ds.labels >= 0)
    if not (ds.usage == "Training").any():
        raise BadInputError(f"{ds.source}: no Training rows; assign Usage with 'fercsv split'")
    if not (ds.usage == "PublicTest").any():
        out("no PublicTest rows: holding out 10% of Training (stratified) for validation")
        train_rows = ds.subset(ds.usage == "Training")
        held = split(train_rows, val=0.1, test=0.0, seed=config.seed)
        others = ds.subset(ds.usage != "Training")
        ds = FERDataset(np.concatenate([held.images, others.images]),
                        np.concatenate([held.labels, others.labels]),
                        np.concatenate([held.usage, others.usage]), ds.label_names, source=ds.source)
    if config.balance:
        ds = balance(ds, method=config.balance, seed=config.seed)
    return ds


class _Recorder:
    """Keras callback factory: history.csv, best/last checkpoints, early stopping and a time
    limit, all written atomically and restored on resume."""

    def __new__(cls, keras, run_dir, config, history, state, t_start, out):
        class Recorder(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs = dict(logs or {})
                row = {"epoch": epoch, **{k: float(v) for k, v in logs.items()}}
                lr = self.model.optimizer.learning_rate
                row["lr"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
                history.append(row)
                _write_history(run_dir / "history.csv", history)
                val = row.get("val_accuracy", row.get("accuracy", 0.0))
                _save_model(self.model, run_dir / "last.keras")
                if val > state["best"] + 1e-6:
                    state.update(best=val, best_epoch=epoch + 1, wait=0)
                    _save_model(self.model, run_dir / "best.keras")
                else:
                    state["wait"] += 1
                _write_json(run_dir / "state.json", state)
                try:
                    from .plots import plot_curves

                    plot_curves(_columns(history), run_dir / "curves.png")
                except Exception as exc:  # plots are a convenience; never lose a run to them
                    out(f"(could not draw curves.png: {exc})")
                if config.patience and state["wait"] >= config.patience:
                    out(f"early stopping: no validation gain for {config.patience} epochs")
                    state["stopped_early"] = True
                    self.model.stop_training = True
                state["epoch_minutes"] = (time.time() - getattr(self, "_t", time.time())) / 60
                limit = config.time_limit_minutes
                # Stop when another epoch like this one would not fit in the time limit.
                if limit and (time.time() - t_start) / 60 + state["epoch_minutes"] > limit:
                    out(f"time limit of {limit} minutes reached after epoch {epoch + 1}")
                    state["time_limited"] = True
                    self.model.stop_training = True

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.time()

        return Recorder()


def _save_model(model, path):
    with atomic_path(path.with_suffix(".keras")) as tmp:
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


def _read_history(path, upto):
    import pandas as pd

    if not path.is_file():
        return []
    rows = pd.read_csv(path).to_dict("records")
    return [r for r in rows if r["epoch"] < upto]


def _backup_epoch(backup_dir):
    meta = backup_dir / "training_metadata.json"
    if meta.is_file():
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (ValueError, KeyError):
            return 0
    return 0


def train(data, out_dir, *, model="fercnn", epochs=40, batch_size=64, lr=1e-3, restart=False,
          out=print, verbose="auto", **options):
    """Train a model on ``data`` (CSV path or FERDataset) into ``out_dir`` (the RUN_DIR).

    Trains on Training rows, selects on PublicTest (10% of Training when
    absent), and reports PrivateTest at the end if present. Options are the
    fields of :class:`TrainConfig`. Calling again with the same settings after
    an interruption resumes; after completion it returns the stored result.

    >>> import fercsv                                              # doctest: +SKIP
    >>> fercsv.train(fercsv.synth_dataset(per_class=50), "run", epochs=5)  # doctest: +SKIP
    """
    config = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=lr, **options)
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    done, cfg_path = run_dir / "done.json", run_dir / "config.json"
    if restart:
        for name in ("done.json", "state.json", "history.csv", "best.keras", "last.keras"):
            (run_dir / name).unlink(missing_ok=True)
        _remove_tree(run_dir / "backup")
    elif cfg_path.is_file():
        old = json.loads(cfg_path.read_text()).get("settings", {})
        if old and old != config.key():
            diff = {k: (old.get(k), v) for k, v in config.key().items() if old.get(k) != v}
            raise FercsvError(f"{run_dir} holds a run with other settings ({diff}); "
                              "use a new RUN_DIR, the same settings, or restart=True (CLI --restart)")
    if done.is_file() and not restart:
        result = TrainResult(**json.loads(done.read_text()))
        out(f"{run_dir} already finished; not training again (restart=True to start over)")
        return result

    from .tfutil import import_tf, pick_precision, pick_strategy

    tf, keras = import_tf()
    t_start = time.time()
    ds = _prepare_data(data, config, out)
    strategy, device = pick_strategy()
    precision = pick_precision(config.precision, device)
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(config.seed)
    label_names = list(ds.label_names)
    n_classes = len(label_names)
    train_ds = ds.subset("Training")
    val_ds = ds.subset("PublicTest")
    _write_json(run_dir / "labels.json", label_names)
    _write_json(cfg_path, {"settings": config.key(), "all_settings": asdict(config), "device": device,
                           "precision": precision, "data": str(ds.source), "label_names": label_names,
                           "n_train": len(train_ds), "n_val": len(val_ds), "versions": _versions()})

    backup_dir = run_dir / "backup"
    first_epoch = _backup_epoch(backup_dir)
    history = _read_history(run_dir / "history.csv", first_epoch)
    state = {"best": -1.0, "best_epoch": 0, "wait": 0}
    if first_epoch and (run_dir / "state.json").is_file():
        state.update(json.loads((run_dir / "state.json").read_text()))
        out(f"resuming {run_dir} at epoch {first_epoch + 1} of {config.epochs}")

    from .models import build_model
    from .pipeline import eval_dataset, train_dataset

    soft = train_ds.targets()
    if soft is not None and config.class_weight:
        raise BadInputError("class_weight cannot be combined with soft targets (p_<label> columns); "
                            "drop one of them")
    data_train, steps = train_dataset(train_ds.images, train_ds.labels if soft is None else soft,
                                      batch_size=config.batch_size,
                                      seed=config.seed, first_epoch=first_epoch, epochs=config.epochs,
                                      augment=config.augment)
    data_val = eval_dataset(val_ds.images, val_ds.labels, batch_size=256)
    with strategy.scope():
        net = build_model(config.model, input_shape=train_ds.image_shape + (1,), n_classes=n_classes,
                          backbone=config.backbone, weights=config.weights)
        total = max(1, steps * config.epochs)
        warm = min(steps * config.warmup_epochs, total // 2)
        if config.schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(
                config.lr * 0.1 if warm else config.lr, decay_steps=max(1, total - warm),
                alpha=0.01, warmup_target=config.lr if warm else None, warmup_steps=warm)
        elif config.schedule == "plateau":
            rate = config.lr
        else:
            raise BadInputError(f"schedule must be 'cosine' or 'plateau', not {config.schedule!r}")
        optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        net.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    one_hot = lambda x, y: (x, tf.one_hot(y, n_classes))  # noqa: E731
    # The recorder runs before the backup at each epoch end: if the process dies in between,
    # the backup still points at the previous epoch, which is then simply trained again.
    callbacks = [_Recorder(keras, run_dir, config, history, state, t_start, out),
                 keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True,
                                                  delete_checkpoint=False)]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5,
                                                           patience=max(2, config.patience // 3)))
    weights = None
    if config.class_weight == "balanced":
        weights = class_weights(train_ds.labels, n_classes=n_classes)
    elif config.class_weight:
        raise BadInputError(f"class_weight must be 'balanced' or None, not {config.class_weight!r}")
    out(f"training {config.model if not config.backbone else config.backbone} on {len(train_ds)} images "
        f"({n_classes} classes), validating on {len(val_ds)}; {device}, {precision}, "
        f"{config.epochs} epochs of {steps} steps")
    if first_epoch < config.epochs:
        if soft is not None:
            out("learning from soft targets (p_<label> columns); validation scores the majority label")
        net.fit(data_train if soft is not None else data_train.map(one_hot), validation_data=data_val.map(one_hot), epochs=config.epochs,
                initial_epoch=first_epoch, steps_per_epoch=steps, class_weight=weights,
                callbacks=callbacks, shuffle=False,
                verbose=verbose if verbose != "auto" else _verbosity())
    keras.mixed_precision.set_global_policy("float32")
    result = TrainResult(str(run_dir), len(history), int(state["best_epoch"]), float(state["best"]),
                         resumed_from=first_epoch, seconds=round(time.time() - t_start, 1))
    result.files = {"best": str(run_dir / "best.keras"), "curves": str(run_dir / "curves.png"),
                    "history": str(run_dir / "history.csv")}
    if (ds.usage == "PrivateTest").any() and (run_dir / "best.keras").is_file():
        from .evaluation import evaluate

        report = evaluate(run_dir, ds, split="PrivateTest", tta=config.tta, out_dir=run_dir)
        result.test_accuracy = report.accuracy
        result.files.update(report.files)
    _write_json(done, asdict(result))
    _remove_tree(backup_dir)
    return result


def _remove_tree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _verbosity():
    import sys

    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            return 1
    except ImportError:
        pass
    return 1 if sys.stdout.isatty() else 2
