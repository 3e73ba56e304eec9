"""Hyper-parameter sweeps: one resumable RUN_DIR per grid setting, trained as Ray Tune trials.

SWEEP/ holds sweep.json (grid, fixed settings, data fingerprint), trials/<setting>/ (ordinary
RUN_DIRs named after their settings), logs/, results.csv, results.md, heatmap.png and best.json.
A rerun with the same arguments trains only what is unfinished, and PrivateTest is looked at
once: for the trial that PublicTest chose, at the end.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..core import checks
from ..core.atomic import atomic_path, write_json
from ..core.errors import BadInputError, FercsvError, MissingDependencyError, first_line, require
from ..data.labels import USAGES
from .trainer import TrainConfig

TRAINING, VALIDATION, TEST = USAGES

#: The settings a grid or a fixed parameter may name: the fields of TrainConfig, with their kinds.
SETTINGS = {f.name: str(f.type) for f in fields(TrainConfig)}

#: Settings whose default is None, so that ``none`` is a value they accept.
OPTIONAL_SETTINGS = tuple(f.name for f in fields(TrainConfig) if f.default is None)

#: What the SWEEP/ folder holds (the names fercsv writes there, and removes on restart).
SPEC, TRIALS, LOGS, RAY_DIR, BEST_DIR = "sweep.json", "trials", "logs", ".ray", "best"
RESULTS_CSV, RESULTS_MD, HEATMAP, BEST = "results.csv", "results.md", "heatmap.png", "best.json"
OWNED = (SPEC, TRIALS, LOGS, RAY_DIR, BEST_DIR, RESULTS_CSV, RESULTS_MD, HEATMAP, BEST)

#: How the best trial's test score is named wherever it is shown.
PRIVATE_NAME = "PrivateTest of the best trial (chosen on PublicTest)"

#: Seconds between a trial's looks at its RUN_DIR (to report epochs and time to Ray Tune).
POLL_SECONDS = 1.0

_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a word"}


# ---- arguments ------------------------------------------------------------------------------

def _show(value) -> str:
    """A setting's value as written in trial names and tables (the inverse of :func:`parse_value`)."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return str(value)


def parse_value(key: str, text, *, flag: str = "--grid"):
    """The value of setting ``key`` from its text (non-strings pass through).

    >>> parse_value("batch_size", "32"), parse_value("lr", "1e-3"), parse_value("augment", "no")
    (32, 0.001, False)
    >>> parse_value("epochs", "ten")
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: sweep: --grid epochs=ten: 'ten' is not an integer
    """
    if not isinstance(text, str):
        return text
    word = text.strip()
    if key in OPTIONAL_SETTINGS and word.lower() == "none":
        return None
    kind = SETTINGS[key]
    try:
        if kind == "int":
            return int(word)
        if kind == "float":
            return float(word)
        if kind == "bool":
            return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[word.lower()]
    except (ValueError, KeyError):
        raise BadInputError(f"sweep: {flag} {key}={text}: {word!r} is not {_KIND_WORDS[kind]}") from None
    return word


def _tokens(spec, flag):
    """``(key, [value texts or values])`` pairs from a dict, ``"k=v1,v2"`` strings or a list of them."""
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [(str(k), v.split(",") if isinstance(v, str) else list(v) if isinstance(v, (list, tuple))
                 else [v]) for k, v in spec.items()]
    if isinstance(spec, str):
        spec = spec.split()
    pairs = []
    for token in spec:
        key, eq, values = str(token).partition("=")
        if not eq or not key.strip():
            raise BadInputError(f"sweep: {flag} {token!r} is not KEY=VALUES; write e.g. {flag} batch_size=32,64")
        pairs.append((key.strip(), values.split(",")))
    return pairs


def parse_settings(spec, *, flag: str = "--grid") -> dict:
    """``{setting: [values]}`` from ``"batch_size=32,64"`` texts (or a dict), checked key by key.

    >>> parse_settings(["epochs=20,40", "batch_size=32"])
    {'epochs': [20, 40], 'batch_size': [32]}
    >>> parse_settings(["batch_size="])
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: sweep: --grid batch_size= has an empty value; write KEY=V1,V2,..., e.g. batch_size=32,64
    """
    out = {}
    for key, values in _tokens(spec, flag):
        shown = f"{key}={','.join(map(str, values))}"
        if key not in SETTINGS:
            raise BadInputError(f"sweep: {flag} {shown}: {key!r} is not a training setting; "
                                f"settings are {', '.join(SETTINGS)}")
        if key in out:
            raise BadInputError(f"sweep: {flag} names {key} twice; give all its values once, e.g. {key}=A,B")
        if not values or any(isinstance(v, str) and not v.strip() for v in values):
            raise BadInputError(f"sweep: {flag} {shown} has an empty value; write KEY=V1,V2,..., "
                                "e.g. batch_size=32,64")
        parsed = [parse_value(key, v, flag=flag) for v in values]
        if len(set(map(_show, parsed))) < len(parsed):
            raise BadInputError(f"sweep: {flag} {shown} repeats a value; give each value once")
        out[key] = parsed
    return out


def _bare(exc):
    """A train() check's message without its own function and flag names (the sweep names its own)."""
    return re.sub(r" \(CLI --[\w-]+\)", "", re.sub(r"^train: ", "", str(exc)))


def _check_setting(flag, key, value, fixed):
    try:
        TrainConfig(**{**fixed, key: value}).check()
    except BadInputError as exc:
        raise BadInputError(f"sweep: {flag} {key}={_show(value)}: {_bare(exc)}") from None


def check_grid(grid, params=None) -> tuple[dict, dict]:
    """Parse and check a grid and fixed parameters; ``(grid, params)``, keys in the order given.

    >>> check_grid("epochs=2,1 batch_size=8", "lr=0.01")
    ({'epochs': [2, 1], 'batch_size': [8]}, {'lr': 0.01})
    >>> check_grid("foo=1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: sweep: --grid foo=1: 'foo' is not a training setting; settings are model, ...
    """
    grid = parse_settings(grid, flag="--grid")
    if not grid:
        raise BadInputError("sweep: the grid is empty; give at least one --grid KEY=V1,V2, e.g. epochs=20,40")
    fixed = {}
    for key, values in parse_settings(params, flag="--param").items():
        if len(values) != 1:
            raise BadInputError(f"sweep: --param {key} has {len(values)} values; a --param is fixed, so "
                                "give one value, or sweep them with --grid")
        if key in grid:
            raise BadInputError(f"sweep: {key} is in --grid and --param; give it in one of them")
        fixed[key] = values[0]
    for key, value in fixed.items():
        _check_setting("--param", key, value, {})
    for key, values in grid.items():
        for value in values:
            _check_setting("--grid", key, value, fixed)
    for combo in _combinations(grid):
        try:
            TrainConfig(**{**fixed, **combo}).check()
        except BadInputError as exc:
            raise BadInputError(f"sweep: the grid setting {trial_name(combo)} does not work: {_bare(exc)}") from None
    return grid, fixed


def _combinations(grid):
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def trial_name(combo: dict) -> str:
    """The folder name of a grid setting: stable (keys in TrainConfig order), readable, safe on any
    file system.

    >>> trial_name({"lr": 0.001, "batch_size": 32, "class_weight": None})
    'batch_size=32,lr=0.001,class_weight=none'
    """
    keys = sorted(combo, key=list(SETTINGS).index)
    return ",".join(f"{k}={re.sub(r'[^A-Za-z0-9_.+-]', '_', _show(combo[k]))}" for k in keys)


def plan(grid: dict) -> dict:
    """``{trial name: its grid setting}`` in grid order (the first key varies slowest).

    >>> list(plan({"batch_size": [32, 64], "epochs": [20]}))
    ['epochs=20,batch_size=32', 'epochs=20,batch_size=64']
    """
    trials = {trial_name(c): c for c in _combinations(grid)}
    if len(trials) < math.prod(len(v) for v in grid.values()):
        raise BadInputError("sweep: two grid values give the same trial folder name; make them differ "
                            "in letters or digits")
    return trials


def _check_options(address, num_cpus, cpus_per_trial, gpus_per_trial, max_concurrent, retries, restart):
    checks.choice("sweep", "restart", restart, (True, False))
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise BadInputError(f"sweep: address (CLI --address) must be a Ray address such as auto or "
                            f"ray://head:10001; got {address!r}")
    checks.integer("sweep", "num_cpus", num_cpus, minimum=1, optional=True)
    if address is not None and num_cpus is not None:
        raise BadInputError("sweep: num_cpus (CLI --num-cpus) sizes a local Ray; a cluster at --address "
                            "has its own cores, so drop one of them")
    checks.number("sweep", "cpus_per_trial", cpus_per_trial, above=0)
    checks.number("sweep", "gpus_per_trial", gpus_per_trial, minimum=0)
    checks.integer("sweep", "max_concurrent", max_concurrent, minimum=1, optional=True)
    checks.integer("sweep", "retries", retries, minimum=0)


# ---- the SWEEP folder ---------------------------------------------------------------------------

def fingerprint(ds) -> str:
    """SHA-1 of a dataset's images, labels, Usage and extra columns: equal data, equal text."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(ds.images).tobytes())
    h.update(np.asarray(ds.labels, np.int64).tobytes())
    h.update("\n".join(map(str, ds.usage)).encode())
    h.update(json.dumps([list(ds.label_names), list(ds.image_shape)]).encode())
    for key in sorted(ds.extra):
        h.update(key.encode() + b"\0" + "\n".join(map(str, ds.extra[key])).encode())
    return h.hexdigest()


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _differences(old, new):
    """What differs between a stored sweep.json and these arguments (value order aside)."""

    def same(value):
        return sorted(map(_show, value)) if isinstance(value, list) else _show(value)

    said = []
    for key, flag in (("grid", "--grid"), ("params", "--param")):
        a, b = old.get(key, {}), new[key]
        said += [f"{flag} {k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b))
                 if k not in a or k not in b or same(a[k]) != same(b[k])]
    if old.get("data_sha1") != new["data_sha1"]:
        said.append(f"data: {old.get('data')} -> {new['data']} (other rows)")
    return said


def _open_sweep(out_dir, spec, restart):
    """Check SWEEP/ against the arguments (read-only): True when it holds this sweep already."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir}: exists and is not a folder; give a folder as --out")
    old = _read_json(out_dir / SPEC) if out_dir.is_dir() else None
    if old is None:
        if out_dir.is_dir() and any(out_dir.iterdir()) and not restart:
            raise BadInputError(f"{out_dir}: is not empty and holds no {SPEC}; give a new or empty folder "
                                "as --out")
        return False
    if restart:
        return False
    said = _differences(old, spec)
    if said:
        raise FercsvError(f"{out_dir} holds a sweep with other arguments ({'; '.join(said)}); rerun with "
                          "the same arguments to continue it, give another --out, or --restart to discard it")
    return True


def _clear(out_dir):
    import shutil

    for name in OWNED:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


# ---- one trial (runs in a Ray worker) -----------------------------------------------------------

def _history(run_dir):
    state = _read_json(run_dir / "state.json") or {}
    return state.get("history", [])


def run_trial(config, data=None, settings=None, sweep_dir=None, threads=1):
    """Ray Tune function trainable: train one grid setting into its RUN_DIR, reporting each epoch.

    Training runs in a thread; this thread reads the RUN_DIR's committed epochs and reports them,
    and keeps ``logs/<trial>.json`` (worker pid, host, attempts, seconds) up to date.
    """
    from ray import tune

    name = config["trial"]
    sweep_dir = Path(sweep_dir)
    run_dir = sweep_dir / TRIALS / name
    # Before TensorFlow starts in this worker: as many threads as the trial's share of cores.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(min(threads, 2)))
    ticket_path = sweep_dir / LOGS / f"{name}.json"
    ticket = _read_json(ticket_path) or {"attempts": 0, "seconds": 0.0}
    ticket.update(pid=os.getpid(), host=socket.gethostname(), attempts=ticket["attempts"] + 1)
    spent, t0 = float(ticket["seconds"]), time.time()
    write_json(ticket_path, ticket)
    epochs = settings[name].get("epochs", TrainConfig.epochs)
    box = {}

    def work():
        from .trainer import train

        with open(sweep_dir / LOGS / f"{name}.log", "a", buffering=1) as log:
            log.write(f"--- attempt {ticket['attempts']} in process {os.getpid()} on {ticket['host']}\n")
            try:
                box["result"] = train(data, run_dir, verbose=0, out=lambda m: log.write(f"{m}\n"),
                                      **settings[name])
            except BaseException as exc:  # handed to the reporting thread, which raises it for Ray
                box["error"] = exc
                log.write(f"failed: {type(exc).__name__}: {first_line(exc)}\n")

    worker = threading.Thread(target=work, name=f"fercsv-trial-{name}", daemon=True)
    reported = len(_history(run_dir))
    worker.start()
    while True:
        running = worker.is_alive()
        worker.join(timeout=POLL_SECONDS)
        ticket["seconds"] = round(spent + time.time() - t0, 1)
        write_json(ticket_path, ticket)
        rows = _history(run_dir)
        for row in rows[reported:]:
            best = max(r.get("val_accuracy", 0.0) for r in rows[:int(row["epoch"]) + 1])
            tune.report({"epoch": int(row["epoch"]) + 1, "epochs": epochs, "accuracy": row.get("accuracy"),
                         "val_accuracy": row.get("val_accuracy"), "best_publictest": best})
        reported = max(reported, len(rows))
        if not running:
            break
    if "error" in box:
        raise box["error"]
    result = box["result"]
    tune.report({"done": True, "epochs": epochs, "epochs_run": result.epochs_run,
                 "best_publictest": result.best_val_accuracy})


# ---- the Ray side -------------------------------------------------------------------------------

@contextlib.contextmanager
def _environ(**values):
    """Set environment variables for the block; their earlier values (or absence) come back after."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _probe(address, timeout=10.0):
    """Fail at once on a ``HOST:PORT`` nobody listens on (Ray itself retries for minutes).

    >>> _probe("127.0.0.1:1")
    Traceback (most recent call last):
    ...
    ConnectionError: nothing answers at 127.0.0.1:1 (Connection refused)
    """
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # "auto", or a ray:// client address: Ray finds and checks those itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _ray(address, num_cpus):
    """A Ray session (yields where it runs): the caller's own when one is open, else a local Ray
    or the cluster at ``address``, shut down at the end."""
    ray = require("ray", extra="scale", feature="fercsv sweep")
    if ray.is_initialized():
        yield "the Ray session already open in this process"
        return
    import logging

    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    # Ray gives a new local node 30 seconds to start; a busy machine may need a second try.
    for attempt in range(1 if address else 2):
        try:
            if address:
                _probe(address)
                ray.init(address=address, **quiet)
            else:
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
            break
        except Exception as exc:  # Ray raises plain Exception for a node that did not start in time
            ray.shutdown()
            if address:
                raise FercsvError(f"sweep: could not reach the Ray cluster at {address} ({first_line(exc)}); "
                                  "check that `ray status` answers there; a cluster with token authentication "
                                  "(the default of `ray start`) also needs RAY_AUTH_MODE=token and its token "
                                  "(RAY_AUTH_TOKEN or ~/.ray/auth_token)") from None
            if attempt:
                raise FercsvError(f"sweep: could not start a local Ray ({first_line(exc)}); try again, or run "
                                  "`ray start --head` and give its address with --address") from None
    try:
        yield address or "local"
    finally:
        ray.shutdown()


def _progress(tune, out, sweep_dir):
    """A Tune callback that says one line per trial event."""

    def name(trial):
        return trial.config.get("trial", str(trial))

    class Progress(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            out(f"{name(trial)}: training")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "epoch" in result:
                out(f"{name(trial)}: epoch {result['epoch']}/{result['epochs']}, "
                    f"PublicTest {_percent(result.get('val_accuracy'))}")

        def on_trial_recover(self, iteration, trials, trial, **info):
            out(f"{name(trial)}: its worker failed; trying again from its RUN_DIR")

        def on_trial_error(self, iteration, trials, trial, **info):
            out(f"{name(trial)}: failed; see {sweep_dir / LOGS / (name(trial) + '.log')}")

        def on_trial_complete(self, iteration, trials, trial, **info):
            out(f"{name(trial)}: done")

    return Progress()


def _run_trials(todo, settings, trial_data, sweep_dir, *, where, cpus_per_trial, gpus_per_trial,
                max_concurrent, retries, out):
    """Train the unfinished trials on Ray Tune (in the open Ray session, ``where``); returns
    ``{trial: why it did not finish}``."""
    import ray

    tune = require("ray.tune", extra="scale", feature="fercsv sweep")
    errors = {}
    cores = ray.cluster_resources().get("CPU", 1)
    concurrent = max_concurrent or max(1, int(cores // cpus_per_trial))
    concurrent = min(concurrent, len(todo))
    out(f"training {len(todo)} trial(s) on Ray Tune ({where}: {cores:g} CPUs, "
        f"{concurrent} at a time, {cpus_per_trial:g} CPU each)")
    trainable = tune.with_parameters(run_trial, data=trial_data, settings=settings,
                                     sweep_dir=str(sweep_dir), threads=max(1, round(cpus_per_trial)))
    resources = {"cpu": cpus_per_trial, **({"gpu": gpus_per_trial} if gpus_per_trial else {})}
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        param_space={"trial": tune.grid_search(list(todo))},
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrent,
                                    trial_name_creator=lambda t: t.config["trial"],
                                    trial_dirname_creator=lambda t: t.config["trial"]),
        run_config=tune.RunConfig(name=time.strftime("tune-%Y%m%d-%H%M%S"),
                                  storage_path=str(sweep_dir / RAY_DIR), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=retries),
                                  callbacks=[_progress(tune, out, sweep_dir)]))
    with _environ(RAY_AIR_NEW_OUTPUT="0"):  # the newer console output prints a banner even when silent
        results = tuner.fit()
    for result in results:
        name = result.config["trial"]
        if result.error is not None:
            errors[name] = first_line(result.error)
        elif not (sweep_dir / TRIALS / name / "done.json").is_file():
            errors[name] = (f"it finished on its Ray node, but its RUN_DIR is not in {sweep_dir / TRIALS} "
                            "here; put SWEEP on storage every node shares (e.g. NFS)")
    return errors


# ---- results ------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """A sweep's table (one row per grid setting), its best trial and that trial's PrivateTest score."""

    out_dir: str
    grid: dict
    params: dict
    rows: list
    best: dict = None
    trained: list = field(default_factory=list)
    files: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)

    def __str__(self):
        lines = [f"sweep {self.out_dir}: {len(self.rows)} trials"
                 + (f" ({len(self.trained)} trained now)" if self.trained else " (none trained now)")]
        for row in self.rows:
            lines.append(f"  {row['trial']}: best PublicTest {_percent(row['best_publictest'])}, "
                         f"{row['epochs_run']} epochs, {row['minutes']} min")
        if self.best:
            lines.append(f"best trial (chosen on PublicTest): {self.best['trial']} "
                         f"({_percent(self.best['best_publictest'])})")
            if self.best.get("privatetest") is not None:
                lines.append(f"{PRIVATE_NAME}: {_percent(self.best['privatetest'])}")
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _percent(value):
    return "-" if value is None or value != value else f"{value:.2%}"


def _row(sweep_dir, name, combo):
    run_dir = sweep_dir / TRIALS / name
    done = _read_json(run_dir / "done.json")
    ticket = _read_json(sweep_dir / LOGS / f"{name}.json") or {}
    row = {"trial": name, **{k: _show(v) for k, v in combo.items()}}
    if done is not None:
        seconds = ticket.get("seconds", done.get("seconds", 0.0))
        row.update(best_publictest=done["best_val_accuracy"], best_epoch=done["best_epoch"],
                   epochs_run=done["epochs_run"], status="done")
    else:
        state = _read_json(run_dir / "state.json") or {}
        best = state.get("best", -1.0)
        seconds = ticket.get("seconds", 0.0)
        row.update(best_publictest=best if best >= 0 else None, best_epoch=state.get("best_epoch", 0),
                   epochs_run=state.get("epochs_done", 0), status="unfinished")
    row["minutes"] = round(seconds / 60, 2)
    row["status"] = row.pop("status")  # the last column
    return row


def _best_row(rows):
    done = [r for r in rows if r["status"] == "done"]
    return max(done, key=lambda r: r["best_publictest"]) if done else None  # ties: the first in grid order


def _evaluate_best(sweep_dir, best, settings, ds, out):
    """best.json: the best trial and, once per sweep, its PrivateTest score."""
    stored = _read_json(sweep_dir / BEST)
    if stored is not None and stored.get("trial") == best["trial"]:
        return stored
    record = {"trial": best["trial"], "run_dir": str(sweep_dir / TRIALS / best["trial"]),
              "settings": settings, "best_publictest": best["best_publictest"], "chosen_on": VALIDATION,
              "privatetest": None, "privatetest_name": PRIVATE_NAME}
    if (ds.usage == TEST).any():
        from .evaluation import evaluate

        tta = TrainConfig(**settings).tta
        out(f"evaluating the best trial {best['trial']} on PrivateTest (once per sweep)")
        report = evaluate(record["run_dir"], ds, split=TEST, tta=tta, out_dir=sweep_dir / BEST_DIR)
        record.update(privatetest=report.accuracy, privatetest_n=report.n, tta=report.tta,
                      report=report.files.get("report"))
    else:
        record["note"] = "the data has no PrivateTest rows, so no test score"
    write_json(sweep_dir / BEST, record)
    return record


def _markdown(rows, grid, params, spec, best):
    heads = ["trial", *grid, "best PublicTest", "best epoch", "epochs run", "minutes", "status"]
    keys = ["trial", *grid, "best_publictest", "best_epoch", "epochs_run", "minutes", "status"]
    lines = [f"# Sweep of {spec['data']}", "",
             f"{len(rows)} trials over {', '.join(grid)}"
             + (f"; fixed: {', '.join(f'{k}={_show(v)}' for k, v in params.items())}" if params else "")
             + ". Trials are compared on PublicTest.", "",
             "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in rows:
        cells = [_percent(row[k]) if k == "best_publictest" else str(row[k]) for k in keys]
        if best and row["trial"] == best["trial"]:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if best:
        lines.append(f"Best trial (chosen on PublicTest): **{best['trial']}**, PublicTest "
                     f"{_percent(best['best_publictest'])}.")
        if best.get("privatetest") is not None:
            lines.append(f"{PRIVATE_NAME}: **{_percent(best['privatetest'])}** "
                         f"({best['privatetest_n']} images, TTA {best['tta']}), looked at once.")
    else:
        lines.append("Some trials are unfinished: rerun the same command to finish them; the best trial "
                     "and its PrivateTest score come when all are done.")
    return "\n".join(lines) + "\n"


def _write_results(sweep_dir, rows, grid, params, spec, best, out):
    import pandas as pd

    files = {"results_csv": sweep_dir / RESULTS_CSV, "results_md": sweep_dir / RESULTS_MD}
    with atomic_path(files["results_csv"]) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(files["results_md"]) as tmp:
        tmp.write_text(_markdown(rows, grid, params, spec, best))
    try:
        from .plots import plot_sweep

        files["heatmap"] = plot_sweep(rows, {k: list(map(_show, v)) for k, v in grid.items()},
                                      sweep_dir / HEATMAP)
    except (ImportError, MissingDependencyError) as exc:  # the tables are the result; the plot a convenience
        out(f"(no {HEATMAP}: {first_line(exc)})")
    if best:
        files["best"] = sweep_dir / BEST
    return {k: str(v) for k, v in files.items()}


def _installed(module):
    """True when ``module`` can be found (without importing it)."""
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# ---- sweep --------------------------------------------------------------------------------------

def sweep(data, out_dir, *, grid, params=None, address: str | None = None, num_cpus: int | None = None,
          cpus_per_trial: float = 1, gpus_per_trial: float = 0, max_concurrent: int | None = None,
          retries: int = 2, restart: bool = False, out=print) -> SweepResult:
    """Train every setting of ``grid`` (with ``params`` fixed) on Ray Tune, one RUN_DIR per trial.

    ``grid`` is ``{"batch_size": [32, 64], "epochs": [20, 40]}`` or ``["batch_size=32,64",
    "epochs=20,40"]``; its keys and ``params``' are TrainConfig fields. Trials train on the
    Training rows and are compared on PublicTest; PrivateTest is scored once, for the best
    trial, at the end. Ray runs locally on ``num_cpus`` cores (default: all), or on the
    cluster at ``address``. Rerunning with the same arguments trains only unfinished trials
    (a killed one resumes from its RUN_DIR); other arguments are refused unless ``restart``.
    Raises FercsvError naming the unfinished trials when some fail after ``retries``.
    A run looks like ``fercsv.sweep("fer2013.csv", "sweep", grid={"batch_size": [32, 64], "epochs": [20, 40]})``
    (the smallest one, one trial of one epoch, takes about 30 s, most of it starting Ray).

    Before Ray starts, the grid and ``params`` are checked (:func:`check_grid`, a bad value stops
    the sweep before anything is written) and planned (:func:`plan`: one trial folder per setting):

    >>> import fercsv, tempfile
    >>> from fercsv.training.sweeps import check_grid, plan
    >>> grid, params = check_grid({"batch_size": [32, 64], "epochs": [20, 40]}, "model=seed-cnn")
    >>> list(plan(grid)), params                                              # doctest: +NORMALIZE_WHITESPACE
    (['epochs=20,batch_size=32', 'epochs=40,batch_size=32', 'epochs=20,batch_size=64', 'epochs=40,batch_size=64'],
     {'model': 'seed-cnn'})
    >>> fercsv.sweep(fercsv.synth_dataset(per_class=2), tempfile.mkdtemp(), grid="batch_size=32,0")
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: sweep: --grid batch_size=0: batch_size must be an integer >= 1; got 0
    """
    grid, params = check_grid(grid, params)
    _check_options(address, num_cpus, cpus_per_trial, gpus_per_trial, max_concurrent, retries, restart)
    for module, extra, feature in (("ray", "scale", "fercsv sweep"), ("tensorflow", "train", "training a sweep")):
        if not _installed(module):
            require(module, extra=extra, feature=feature)  # raises, naming the extra
    from ..data.convert import load_data

    ds = load_data(data)
    for usage, why in ((TRAINING, "to train on"), (VALIDATION, "to compare trials on")):
        if not (ds.usage == usage).any():
            raise BadInputError(f"{ds.source}: no {usage} rows {why}; assign Usage with "
                                "'fercsv split DATA OUT --val 0.1 --test 0.1'")
    out_dir = Path(out_dir).resolve()
    trials = plan(grid)
    spec = {"grid": grid, "params": params, "data": str(ds.source), "data_sha1": fingerprint(ds),
            "trials": list(trials)}
    continuing = _open_sweep(out_dir, spec, restart)
    settings = {name: {**params, **combo} for name, combo in trials.items()}
    todo = [name for name in trials if restart or not (out_dir / TRIALS / name / "done.json").is_file()]
    if len(todo) < len(trials):
        out(f"{len(trials) - len(todo)} of {len(trials)} trials already finished; not training them again")
    errors = {}
    with _ray(address, num_cpus) if todo else contextlib.nullcontext() as where:
        # Everything is known to be good and Ray is up: from here on SWEEP/ is written.
        if restart:
            _clear(out_dir)
        (out_dir / LOGS).mkdir(parents=True, exist_ok=True)
        if not continuing:
            from ..core.version import __version__

            write_json(out_dir / SPEC, {**spec, "fercsv": __version__,
                                         "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        if todo:
            errors = _run_trials(todo, settings, ds.subset(ds.usage != TEST), out_dir, where=where,
                                 cpus_per_trial=float(cpus_per_trial), gpus_per_trial=float(gpus_per_trial),
                                 max_concurrent=max_concurrent, retries=retries, out=out)
    rows = [_row(out_dir, name, combo) for name, combo in trials.items()]
    unfinished = [r["trial"] for r in rows if r["status"] != "done"]
    best = None
    if not unfinished:
        top = _best_row(rows)
        best = _evaluate_best(out_dir, top, settings[top["trial"]], ds, out)
    files = _write_results(out_dir, rows, grid, params, spec, best, out)
    if unfinished:
        why = "; ".join(f"{n}: {errors[n]}" if n in errors else n for n in unfinished)
        raise FercsvError(f"sweep: {len(unfinished)} of {len(rows)} trials did not finish ({why}); logs in "
                          f"{out_dir / LOGS}; rerun the same command to resume them")
    return SweepResult(str(out_dir), grid, params, rows, best, trained=todo, files=files)
