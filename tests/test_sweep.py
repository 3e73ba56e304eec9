"""fercsv sweep: argument checks, the missing-engine message, the results plot, and real Ray Tune
sweeps on tiny synthetic data (a trial worker and then the whole driver killed mid-sweep; the rest
finished on a `ray start` cluster through --address)."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import fercsv
from fercsv import BadInputError, FercsvError
from fercsv.training.sweeps import LOGS, PRIVATE_NAME, TRIALS, check_grid, plan

from helpers import free_port, ray_head, run_cli

#: Settings that keep every trial to a few seconds and independent of the CPU's float16 support.
QUICK = ["warmup_epochs=0", "tta=none", "precision=float32", "patience=0"]


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    """42 Training, 14 PublicTest and 14 PrivateTest synthetic faces."""
    path = tmp_path_factory.mktemp("sweepdata") / "tiny.csv"
    fercsv.write_csv(fercsv.synth_dataset(per_class=6, seed=0), path)
    return path


@pytest.mark.parametrize("grid, params, message", [
    (["batch_size="], None, "--grid batch_size= has an empty value"),
    (["foo=1"], None, "'foo' is not a training setting"),
    (["epochs=0"], None, "--grid epochs=0: epochs must be an integer >= 1; got 0"),
    (["epochs=two"], None, "'two' is not an integer"),
    (["epochs=1,1"], None, "repeats a value"),
    (["batch_size"], None, "is not KEY=VALUES"),
    ([], None, "the grid is empty"),
    (["epochs=1,2"], ["lr=0.1,0.2"], "--param lr has 2 values"),
    (["epochs=1,2"], ["epochs=3"], "epochs is in --grid and --param"),
    (["epochs=1,2"], ["schedule=steps"], "--param schedule=steps: schedule must be one of cosine, plateau"),
])
def test_bad_grid_is_refused_before_anything_is_written(tmp_path, tiny_csv, grid, params, message):
    out = tmp_path / "sweep"
    with pytest.raises(BadInputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        fercsv.sweep(tiny_csv, out, grid=grid, params=params)
    assert not out.exists()


def test_bad_grid_on_the_cli_is_one_line_and_writes_nothing(tmp_path, tiny_csv):
    for bad, said in [("batch_size=", "has an empty value"), ("foo=1", "'foo' is not a training setting"),
                      ("epochs=0", "epochs must be an integer >= 1")]:
        r = run_cli("sweep", tiny_csv, "--grid", bad, "--out", tmp_path / "sweep")
        assert r.returncode == 1, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("fercsv: error: sweep: --grid"), r.stderr
        assert said in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "sweep").exists()


def test_other_bad_input_is_named(tmp_path, tiny_csv):
    with pytest.raises(BadInputError, match="num_cpus .* a cluster at --address"):
        fercsv.sweep(tiny_csv, tmp_path / "s", grid="epochs=1,2", address="auto", num_cpus=2)
    with pytest.raises(BadInputError, match="cpus_per_trial .* must be a number > 0"):
        fercsv.sweep(tiny_csv, tmp_path / "s", grid="epochs=1,2", cpus_per_trial=0)
    no_val = fercsv.synth_dataset(per_class=3)
    no_val = no_val.subset(no_val.usage != "PublicTest")
    with pytest.raises(BadInputError, match="no PublicTest rows to compare trials on"):
        fercsv.sweep(no_val, tmp_path / "s", grid="epochs=1,2")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not empty and holds no sweep.json"):
        fercsv.sweep(tiny_csv, tmp_path / "busy", grid="epochs=1,2")
    assert not (tmp_path / "s").exists() and os.listdir(tmp_path / "busy") == ["notes.txt"]


BLOCK_RAY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
from fercsv.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_missing_ray_names_the_extra(tmp_path, tiny_csv):
    r = subprocess.run([sys.executable, "-c", BLOCK_RAY, "sweep", str(tiny_csv), "--grid", "epochs=1,2",
                        "--out", str(tmp_path / "sweep")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "pip install 'fercsv[scale]'" in r.stderr, r.stderr
    assert not (tmp_path / "sweep").exists()


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(tmp_path, tiny_csv):
    port = free_port()  # a port just freed: nothing listens there
    r = run_cli("sweep", tiny_csv, "--grid", "epochs=1,2", "--out", tmp_path / "sweep",
                "--address", f"127.0.0.1:{port}")
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert f"could not reach the Ray cluster at 127.0.0.1:{port}" in r.stderr and "RAY_AUTH_MODE" in r.stderr
    assert not (tmp_path / "sweep").exists()


def test_sweep_modules_import_no_ray_or_tensorflow():
    code = ("import sys, fercsv, fercsv.training.sweeps, fercsv.cli.sweep\n"
            "assert callable(fercsv.sweep)\n"
            "print(sorted(m for m in ('ray', 'tensorflow', 'matplotlib', 'pyarrow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_trial_names_do_not_depend_on_the_order_given():
    a, _ = check_grid("batch_size=32,64 epochs=20,40")
    b, _ = check_grid({"epochs": [40, 20], "batch_size": "64,32"})
    assert sorted(plan(a)) == sorted(plan(b))
    assert list(plan(a))[:2] == ["epochs=20,batch_size=32", "epochs=40,batch_size=32"]


def test_heatmap_and_bars(tmp_path):
    from PIL import Image

    from fercsv.training.plots import plot_sweep

    rows = [{"batch_size": b, "epochs": e, "lr": lr, "best_publictest": 0.5 + 0.01 * i}
            for i, (b, e, lr) in enumerate((b, e, lr) for b in ("32", "64") for e in ("1", "2", "3")
                                           for lr in ("0.1", "0.01"))]
    rows[-1]["best_publictest"] = None  # an unfinished trial: its cell says so
    grid = {"batch_size": ["32", "64"], "epochs": ["1", "2", "3"], "lr": ["0.1", "0.01"]}
    heat = plot_sweep(rows, grid, tmp_path / "heat.png")
    bars = plot_sweep([{"epochs": "1", "best_publictest": 0.4}, {"epochs": "2", "best_publictest": 0.6}],
                      {"epochs": ["1", "2"]}, tmp_path / "bars.png")
    for path in (heat, bars):
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size[0] > 200


# ---- a real sweep on local Ray, with a trial worker and then the driver killed -------------------

def _wait(what, test, timeout=600, poll=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = test()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.tensorflow
def test_sweep_survives_a_killed_worker_and_a_killed_driver(tmp_path, tiny_csv):
    out = tmp_path / "sweep"
    args = ["sweep", str(tiny_csv), "--grid", "batch_size=8,16", "epochs=1,3", "--param", *QUICK,
            "--out", str(out), "--retries", "1"]
    local = args + ["--num-cpus", "1"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    trials = ["epochs=1,batch_size=8", "epochs=3,batch_size=8", "epochs=1,batch_size=16",
              "epochs=3,batch_size=16"]  # grid order: one Ray CPU trains them one after another
    first, killed = (out / TRIALS / t for t in trials[:2])
    tickets = {t: out / LOGS / f"{t}.json" for t in trials}
    log = open(tmp_path / "driver1.log", "w")
    driver = subprocess.Popen([sys.executable, "-m", "fercsv", *local], stdout=log, stderr=subprocess.STDOUT,
                              env=env, start_new_session=True)
    workers = set()

    def running(test):  # a driver that ended early fails the test at once, showing its log
        def check():
            assert driver.poll() is None, (tmp_path / "driver1.log").read_text()
            return test()
        return check

    try:
        _wait("the first trial to finish", running(lambda: (first / "done.json").is_file()))
        first_done = (first / "done.json").stat().st_mtime_ns
        # The second trial's worker, killed after its first epoch is committed and before its last.
        ticket = _wait("the second trial's worker", running(lambda: _read(tickets[trials[1]])))
        _wait("its first epoch", running(lambda: (_read(killed / "state.json") or {}).get("epochs_done", 0) >= 1),
              poll=0.02)
        os.kill(ticket["pid"], signal.SIGKILL)
        workers.add(ticket["pid"])
        assert not (killed / "done.json").exists(), "the trial finished before it could be killed"
        # Ray Tune tries the trial again in a new worker, which resumes the RUN_DIR.
        again = _wait("the retry", running(lambda: (_read(tickets[trials[1]]) or {}).get("attempts") == 2
                                          and _read(tickets[trials[1]])))
        workers.add(again["pid"])
        assert again["pid"] != ticket["pid"]
        # Then the whole driver dies while the third trial trains.
        workers.add(_wait("the third trial's worker", running(lambda: _read(tickets[trials[2]])))["pid"])
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(timeout=60)
        log.close()
    # Ray's local processes share the driver's fate; make sure no trial worker outlives it.
    for pid in workers:
        try:
            _wait(f"worker {pid} to stop", lambda: not _alive(pid), timeout=30)
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
            raise
    driver_log = (tmp_path / "driver1.log").read_text()
    assert "its worker failed; trying again from its RUN_DIR" in driver_log, driver_log

    # The same sweep continues, this time on a running Ray cluster (--address instead of a local Ray):
    # finished trials are not trained again, the rest complete.
    with ray_head(env) as (address, cluster_env):
        r = run_cli(*args, "--address", address, env=cluster_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"on Ray Tune ({address}: 1 CPUs" in r.stdout
    assert "already finished; not training them again" in r.stdout
    assert (first / "done.json").stat().st_mtime_ns == first_done
    table = pd.read_csv(out / "results.csv")
    assert sorted(table["trial"]) == sorted(trials)  # each trial exactly once
    assert set(table["status"]) == {"done"}
    assert table.set_index("trial").loc[trials, "epochs_run"].tolist() == [1, 3, 1, 3]
    assert {"batch_size", "epochs", "best_publictest", "epochs_run", "minutes"} <= set(table.columns)
    history = pd.read_csv(killed / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2]  # no epoch lost or trained twice
    assert _read(tickets[trials[1]])["attempts"] >= 2
    best = _read(out / "best.json")
    assert best["trial"] in trials and best["privatetest_name"] == PRIVATE_NAME
    assert best["privatetest_n"] == 14 and 0 <= best["privatetest"] <= 1
    top = table["best_publictest"].max()
    assert best["best_publictest"] == top
    assert table.loc[table["best_publictest"] == top, "trial"].iloc[0] == best["trial"]  # ties: grid order
    markdown = (out / "results.md").read_text()
    assert markdown.count(PRIVATE_NAME) == 1 and markdown.count("| done |") == 4
    assert (out / "heatmap.png").stat().st_size > 1000
    for trial in trials:  # trials never see PrivateTest: only the best one is scored, once, at the end
        assert not (out / TRIALS / trial / "report.json").exists()
    assert (out / "best" / "report.json").is_file()

    # Once more: nothing to train and the PrivateTest score is not computed again.
    best_written = (out / "best.json").stat().st_mtime_ns
    r = run_cli(*local, "--json", env=env)
    assert r.returncode == 0 and "4 of 4 trials already finished" in r.stderr, r.stderr
    assert (out / "best.json").stat().st_mtime_ns == best_written
    assert "Ray Tune" not in r.stderr  # no Ray started for nothing
    report = json.loads(r.stdout)  # with --json, stdout is only the JSON
    assert report["best"] == best and [row["trial"] for row in report["rows"]] == table["trial"].tolist()

    # Other arguments are refused, in one line, and change nothing.
    r = run_cli(*[a if a != "epochs=1,3" else "epochs=1,2" for a in local], env=env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "holds a sweep with other arguments (--grid epochs: [1, 3] -> [1, 2])" in r.stderr
    assert "--restart" in r.stderr
    assert (out / "best.json").stat().st_mtime_ns == best_written


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_trial_out_of_retries_is_reported_then_resumed(tmp_path, tiny_csv, monkeypatch):
    """The Python twin, in this process: a worker that dies with no retry left makes the sweep fail
    naming the trial, with its row marked unfinished; the same call then finishes it."""
    out = tmp_path / "sweep"
    monkeypatch.setenv("FERCSV_CRASH_AT", "committed:0")  # the trainer's hook: the worker exits mid-commit
    said = []
    with pytest.raises(FercsvError, match=r"1 of 1 trials did not finish \(epochs=2: .+\).+rerun the same"):
        fercsv.sweep(tiny_csv, out, grid="epochs=2", params=QUICK, num_cpus=1, retries=0, out=said.append)
    table = pd.read_csv(out / "results.csv")
    assert table[["trial", "epochs_run", "status"]].values.tolist() == [["epochs=2", 1, "unfinished"]]
    assert not (out / "best.json").exists() and "rerun the same command" in (out / "results.md").read_text()
    monkeypatch.delenv("FERCSV_CRASH_AT")
    result = fercsv.sweep(tiny_csv, out, grid={"epochs": [2]}, params=QUICK, num_cpus=1, out=said.append)
    assert result.trained == ["epochs=2"] and result.rows[0]["status"] == "done"
    assert pd.read_csv(out / TRIALS / "epochs=2" / "history.csv")["epoch"].tolist() == [0, 1]
    assert _read(out / LOGS / "epochs=2.json")["attempts"] == 2
    assert result.best["trial"] == "epochs=2" and PRIVATE_NAME in str(result)
    assert any("epochs=2: failed" in line for line in said), said
