"""Training on several machines: TF_CONFIG, and two real worker processes on localhost training one model.

Each worker runs the real CLI (``fercsv train``) under a Python audit hook that logs every
write-like call (open for writing, rename/replace, remove, mkdir...) with its path, so the
test can tell which process wrote into RUN_DIR: fercsv writes its files from Python only.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import fercsv
from fercsv.runtime.tfutil import Cluster, read_cluster
from helpers import free_port

pytestmark = pytest.mark.tensorflow

WORKERS = 2
BATCH = 16  # global: 8 images per worker per step, 3 steps per epoch on 56 Training rows

_WORKER = textwrap.dedent("""
    import json, os, sys
    log_path, argv = sys.argv[1], sys.argv[2:]
    log = open(log_path, "w", buffering=1)  # opened before the hook: not itself logged
    WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.link",
               "os.symlink", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"}

    def hook(event, args):
        if event == "open":
            mode, flags = args[1], args[2] or 0
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITING)
        else:
            writes = event in CHANGES
        if writes:
            for arg in args[:2]:
                if isinstance(arg, (str, bytes, os.PathLike)):
                    log.write(json.dumps([event, os.path.realpath(os.fsdecode(arg))]) + "\\n")

    sys.addaudithook(hook)
    from fercsv.cli import main
    sys.exit(main(argv))
""")


class Workers:
    """Two `fercsv train` processes, worker 0 (the chief) and worker 1, under one fresh TF_CONFIG."""

    def __init__(self, tmp_path, tag, csv, run, epochs, runs=None, extra=()):
        ports = [free_port() for _ in range(WORKERS)]
        self.dir = tmp_path / tag
        self.procs, self.files = [], []
        for i, run in enumerate(runs or [run] * WORKERS):
            argv = ["train", str(csv), "--out", str(run), "--epochs", str(epochs), "--batch-size", str(BATCH),
                    "--model", "seed-cnn", "--precision", "float32", "--tta", "none", "--patience", "0",
                    "--warmup-epochs", "0", *extra]
            tmp = self.dir / f"tmp{i}"
            tmp.mkdir(parents=True)
            tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                         "task": {"type": "worker", "index": i}}
            env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TMPDIR=str(tmp), TF_CPP_MIN_LOG_LEVEL="3")
            env.pop("FERCSV_CRASH_AT", None)
            out, err = open(self.dir / f"out{i}.txt", "w"), open(self.dir / f"err{i}.txt", "w")
            self.files += [out, err]
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(self.dir / f"writes{i}.jsonl"), *argv],
                stdout=out, stderr=err, env=env, start_new_session=True))

    def wait(self, timeout=300):
        """Exit codes, once every worker has ended by itself (killed, and the test failed, past timeout)."""
        deadline = time.monotonic() + timeout
        try:
            return [p.wait(timeout=max(1, deadline - time.monotonic())) for p in self.procs]
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"workers still running after {timeout} s\n{self.logs()}")
        finally:
            for f in self.files:
                f.close()

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def out(self, i):
        return (self.dir / f"out{i}.txt").read_text()

    def logs(self):
        return "\n".join(f"--- worker {i} ---\n{self.out(i)}{(self.dir / f'err{i}.txt').read_text()[-3000:]}"
                         for i in range(WORKERS))

    def writes(self, i, under):
        """Paths worker ``i`` wrote, renamed, removed or created under ``under``."""
        under = os.path.realpath(under)
        rows = [json.loads(line) for line in (self.dir / f"writes{i}.jsonl").read_text().splitlines()]
        return {p for _, p in rows if p == under or p.startswith(under + os.sep)}

    def digests(self):
        return [line.split("final weights ")[1].split(";")[0].strip()
                for i in range(WORKERS) for line in self.out(i).splitlines() if "final weights " in line]


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "small.csv"
    fercsv.write_csv(fercsv.synth_dataset(per_class=8, seed=3), path)
    return path


def _digest_of(path):
    import keras

    from fercsv.runtime.tfutil import weights_digest

    return weights_digest(keras.models.load_model(path))


def test_tf_config_names_a_cluster_and_this_workers_place():
    def cluster(spec):
        return read_cluster({"TF_CONFIG": json.dumps(spec)})

    two = {"worker": ["a:2222", "b:2222"]}
    assert cluster({"cluster": two, "task": {"type": "worker", "index": 0}}) == Cluster(2, "worker", 0, 0)
    second = cluster({"cluster": two, "task": {"type": "worker", "index": 1}})
    assert not second.chief and second.role == "worker 1"
    with_chief = {"chief": ["c:2222"], "worker": ["a:2222"]}
    assert cluster({"cluster": with_chief, "task": {"type": "chief", "index": 0}}).role == "chief 0 (the chief)"
    assert cluster({"cluster": with_chief, "task": {"type": "worker", "index": 0}}) == Cluster(2, "worker", 0, 1)
    assert cluster({"cluster": {"worker": ["a:2222"]}, "task": {"type": "worker", "index": 0}}) is None
    assert read_cluster({"TF_CONFIG": "  "}) is None and read_cluster({}) is None


@pytest.mark.parametrize("text, says", [
    ("{'cluster': {}}", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'no "cluster"'),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "task.index 2 is outside cluster.worker, which has 2 addresses (0..1)"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}', "task.type 'chief'"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}', "'ps' tasks"),
    ('{"cluster": {"worker": ["a", "b:1"]}, "task": {"type": "worker", "index": 0}}', '"host:port" strings'),
])
def test_bad_tf_config_is_one_line_naming_it(text, says):
    with pytest.raises(fercsv.BadInputError) as info:
        read_cluster({"TF_CONFIG": text})
    message = str(info.value)
    assert message.startswith("TF_CONFIG: ") and says in message and "\n" not in message
    assert "unset it to train on one machine" in message


def test_cli_with_bad_tf_config_or_batch_writes_nothing(small_csv, tmp_path):
    from helpers import run_cli

    run = tmp_path / "run"
    bad = {"TF_CONFIG": '{"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker"'}
    r = run_cli("train", small_csv, "--out", run, "--epochs", "1", env=bad)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("fercsv: error: TF_CONFIG: not valid JSON") and r.stderr.count("\n") == 1
    two = {"TF_CONFIG": json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2"]},
                                    "task": {"type": "worker", "index": 0}})}
    r = run_cli("train", small_csv, "--out", run, "--epochs", "1", "--batch-size", "15", env=two)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "batch_size (CLI --batch-size) 15 is the global batch" in r.stderr and "use 14 or 16" in r.stderr
    assert not run.exists()


@pytest.mark.slow
def test_two_workers_train_one_model_and_the_chief_alone_writes(small_csv, tmp_path):
    run = tmp_path / "run"
    recipe = ("--class-weight", "balanced", "--mixup", "0.2")  # per-image loss weights ride in each share
    workers = Workers(tmp_path, "both", small_csv, run, epochs=2, extra=recipe)
    assert workers.wait() == [0, 0], workers.logs()
    chief, other = workers.out(0), workers.out(1)
    assert "MultiWorkerMirroredStrategy over 2 workers" in chief
    assert "this is worker 0 (the chief), which alone writes RUN_DIR" in chief
    assert "this is worker 1, RUN_DIR is the chief's to write" in other
    assert "the batch size 16 is the global batch: 8 images per worker per step" in other
    assert "2 epochs of 3 steps" in chief and "2 epochs of 3 steps" in other  # one machine's steps, split
    # One model: the same weights on both workers, and the chief's RUN_DIR holds them.
    digests = workers.digests()
    assert len(digests) == 2 and digests[0] == digests[1], workers.logs()
    assert _digest_of(run / "last.keras") == digests[0]
    done = json.loads((run / "done.json").read_text())
    assert done["weights"] == digests[0] and done["cluster"].startswith("worker 0 (the chief) of 2 workers")
    # Both saw the same logs, so the history is one run's.
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1]
    # The chief wrote RUN_DIR; worker 1 wrote nothing there, and saved its epochs to a scratch folder
    # it removed at the end.
    wrote = {os.path.basename(p) for p in workers.writes(0, run)}
    assert {"config.json", "labels.json", "state.json", "history.csv", "last.keras", "best.keras",
            "done.json"} <= wrote
    assert workers.writes(1, run) == set()
    scratch = workers.writes(1, workers.dir / "tmp1")
    assert any(p.endswith(".keras") for p in scratch), sorted(scratch)
    assert not list((workers.dir / "tmp1").glob("fercsv-worker-*"))
    # A finished run: every worker says so and trains nothing.
    again = Workers(tmp_path, "again", small_csv, run, epochs=2, extra=recipe)
    assert again.wait() == [0, 0], again.logs()
    assert all("already finished" in again.out(i) for i in range(WORKERS))
    assert again.writes(0, run) == set() and again.writes(1, run) == set()


@pytest.mark.slow
def test_a_killed_worker_stops_the_job_and_a_restart_resumes_each_epoch_once(small_csv, tmp_path):
    run, epochs = tmp_path / "run", 4
    first = Workers(tmp_path, "first", small_csv, run, epochs=epochs)
    state = run / "state.json"
    deadline = time.monotonic() + 240
    while not (state.is_file() and json.loads(state.read_text())["epochs_done"] >= 1):
        assert time.monotonic() < deadline and first.procs[1].poll() is None, first.logs()
        time.sleep(0.05)
    os.kill(first.procs[1].pid, signal.SIGKILL)  # worker 1 dies in the middle of training
    codes = first.wait()
    assert codes[1] == -signal.SIGKILL and codes[0] == 1, first.logs()
    err = (first.dir / "err0.txt").read_text()
    assert "fercsv: error: worker 0 (the chief): training stopped because the cluster lost a worker" in err
    assert "start the same command on every machine again" in err and "Traceback" not in err
    committed = json.loads(state.read_text())["epochs_done"]
    assert 1 <= committed < epochs
    shown = pd.read_csv(run / "history.csv").to_dict("records")
    assert [row["epoch"] for row in shown] == list(range(committed))

    # Restarted with a RUN_DIR worker 1 cannot see (storage not shared): both stop, saying so.
    unshared = tmp_path / "elsewhere"
    apart = Workers(tmp_path, "apart", small_csv, run, epochs=epochs, runs=[run, unshared])
    assert apart.wait() == [1, 1], apart.logs()
    for i in range(WORKERS):
        err = (apart.dir / f"err{i}.txt").read_text()
        assert f"1 of 2 workers see another RUN_DIR than the chief (which has {committed} epochs committed)" in err
        assert "put RUN_DIR on storage every machine shares" in err and "Traceback" not in err
    assert not unshared.exists() and json.loads(state.read_text())["epochs_done"] == committed

    second = Workers(tmp_path, "second", small_csv, run, epochs=epochs)
    assert second.wait() == [0, 0], second.logs()
    for i in range(WORKERS):
        assert f"resuming {run} at epoch {committed + 1} of {epochs}" in second.out(i)
    history = pd.read_csv(run / "history.csv").to_dict("records")
    assert [row["epoch"] for row in history] == list(range(epochs))  # each epoch once, none lost
    assert history[:committed] == shown  # rows shown before the kill are kept as they were
    digests = second.digests()
    assert len(digests) == 2 and digests[0] == digests[1] == _digest_of(run / "last.keras")
    assert second.writes(1, run) == set()
