"""Batch prediction into a face table: in-process and on a real local Ray cluster give the same bytes;
a killed Ray worker or a killed job loses and repeats no row; a missing Ray names the extra."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from fercsv.serve.engines import COLUMNS, journal_path, predict_table
from fercsv.serve.inputs import expand_inputs
from fercsv.serve.batch import predict_paths
from fercsv.runtime.shipped import pretrained_path
from helpers import blocking, command_lines, ray_head, run_cli, write_video

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
WORKER_TITLE = b"ray::MapWorker(MapBatches(_RayPredictor))"  # Ray sets an actor process's title to this


@pytest.fixture(scope="module")
def collection(tmp_path_factory, astronaut_bgr):
    """Real face photos at several sizes (some mirrored), a blank, a corrupt file and a 12-frame video."""
    root = tmp_path_factory.mktemp("collection") / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        img = cv2.resize(astronaut_bgr, (200 + 24 * i,) * 2)
        cv2.imwrite(str(root / f"p{i}.jpg"), cv2.flip(img, 1) if i % 2 else img)
    cv2.imwrite(str(root / "sub" / "blank.png"), np.full((90, 90, 3), 128, np.uint8))
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    frame = cv2.resize(astronaut_bgr, (320, 320))
    write_video(root / "clip.mp4", [frame] * 6 + [np.full_like(frame, 40)] * 2 + [cv2.flip(frame, 1)] * 4)
    return root


@pytest.fixture(scope="module")
def many(tmp_path_factory, astronaut_bgr):
    """24 face photos: enough Ray tasks (2 inputs each) that work is still in flight when a worker dies."""
    root = tmp_path_factory.mktemp("many")
    for i in range(24):
        cv2.imwrite(str(root / f"f{i:02d}.jpg"), cv2.resize(astronaut_bgr, (180 + 6 * i,) * 2))
    return root


def ray_workers():
    """Pids of the live Ray Data prediction workers (Ray sets their process titles)."""
    return [pid for pid, line in command_lines().items() if line.startswith(WORKER_TITLE)]


def test_table_rows_columns_and_order(collection, tmp_path):
    said = []
    report = predict_paths([collection], out_dir=tmp_path / "faces.parquet", every=2, start=0.1, out=said.append)
    table = pd.read_parquet(tmp_path / "faces.parquet")
    assert list(table.columns) == list(COLUMNS) + [f"p_{n}" for n in LABELS]
    order = [str(f) for f, _ in expand_inputs([collection])[0]]
    broken = str(collection / "sub" / "broken.jpg")
    assert report.skipped == {broken: "truncated JPEG (no end-of-image marker)"}
    assert f"{broken}: skipped (truncated JPEG (no end-of-image marker))" in said
    assert broken not in set(table["source"])
    # sorted by input order, then frame, then face
    keys = [(order.index(s), f, k) for s, f, k in zip(table["source"], table["frame"], table["face"])]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    photos = table[table["source"].str.endswith(".jpg")]
    assert len(photos) == 6 and (photos["frame"] == 0).all() and (photos["time"] == 0).all()
    assert (photos["label"] == "happy").all()  # the astronaut smiles, mirrored or not
    probs = photos[[f"p_{n}" for n in LABELS]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-4)
    assert (photos["score"].to_numpy() == probs.max(1)).all()
    blank = table[table["source"] == str(collection / "sub" / "blank.png")]
    assert blank["face"].tolist() == [-1] and blank[["x", "label", "p_happy"]].isna().all(axis=None)
    # 10 fps video from 0.1 s, every 2nd frame: frames 1, 3, 5 show the face, 7 is dark, 9 and 11 mirrored
    video = table[table["source"] == str(collection / "clip.mp4")]
    assert video["frame"].tolist() == [1, 3, 5, 9, 11] and video["time"].tolist() == [0.1, 0.3, 0.5, 0.9, 1.1]
    # the CSV twin holds the same values (float32 written as the shortest text that reads back exactly)
    predict_paths([collection], out_dir=tmp_path / "faces.csv", every=2, start=0.1, out=None)
    text = pd.read_csv(tmp_path / "faces.csv")
    pd.testing.assert_frame_equal(text.astype(table.dtypes.to_dict()), table, check_dtype=False)
    assert not journal_path(tmp_path / "faces.csv").exists()


@pytest.mark.slow
def test_ray_cli_writes_the_bytes_of_the_in_process_run(collection, tmp_path):
    predict_paths([collection], out_dir=tmp_path / "local.parquet", every=2, start=0.1, out=None)
    r = run_cli("predict", collection, "--out", tmp_path / "ray.parquet", "--engine", "ray", "--workers", "2",
                "--batch-size", "2", "--every", "2", "--start", "0.1")
    assert r.returncode == 0, r.stderr
    assert "on ray" in r.stdout and "broken.jpg: skipped" in r.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ray.parquet"),
                                  pd.read_parquet(tmp_path / "local.parquet"))
    assert (tmp_path / "ray.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()


@pytest.mark.slow
def test_killed_ray_worker_and_interrupted_job_lose_and_repeat_no_row(many, tmp_path):
    predict_table([many], tmp_path / "local.parquet", out=None)
    killed, seen = [], []

    def kill_then_interrupt(line):
        seen.append(line)
        if len(seen) == 1:  # the first input is done and the others are in flight: kill a worker
            pid = ray_workers()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        if len(seen) == 12:
            raise KeyboardInterrupt  # as Ctrl-C would, half way

    table = tmp_path / "ray.parquet"
    with pytest.raises(KeyboardInterrupt):
        predict_table([many], table, engine="ray", workers=2, batch_size=2, out=kill_then_interrupt)
    assert killed and not table.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it really died
    done = journal_path(table).read_text().splitlines()[1:]
    assert [json.loads(line)["index"] for line in done] == list(range(12))
    report = predict_table([many], table, engine="ray", workers=2, batch_size=2, resume=True, out=None)
    assert report.resumed == 12 and report.predicted == 12 and not journal_path(table).exists()
    pd.testing.assert_frame_equal(pd.read_parquet(table), pd.read_parquet(tmp_path / "local.parquet"))
    assert table.read_bytes() == (tmp_path / "local.parquet").read_bytes()
    deadline = time.monotonic() + 60
    while ray_workers() and time.monotonic() < deadline:  # the local cluster goes down with the job
        time.sleep(0.5)
    assert not ray_workers()


@pytest.mark.slow
def test_killed_job_resumes_without_losing_or_repeating_a_row(many, tmp_path):
    predict_table([many], tmp_path / "whole.csv", out=None)
    table = tmp_path / "faces.csv"
    proc = subprocess.Popen([sys.executable, "-m", "fercsv", "predict", str(many), "--out", str(table)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = journal_path(table)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and journal.read_text().count("\n") >= 4:  # header and three inputs
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the job ended before it could be killed: " + proc.stderr.read().decode()
    proc.kill()
    proc.wait(timeout=60)
    proc.stderr.close()
    assert not table.exists()  # nothing half-written under the table's name
    r = run_cli("predict", many, "--out", table, "--resume")
    assert r.returncode == 0, r.stderr
    done = int(re.search(r"; (\d+) already done before this run", r.stdout)[1])
    assert 3 <= done < 24
    assert table.read_bytes() == (tmp_path / "whole.csv").read_bytes()


@pytest.mark.slow
def test_ray_engine_on_a_running_cluster(collection, tmp_path, monkeypatch):
    """--address: a cluster started apart (``ray start --head``), whose workers start in another folder."""
    monkeypatch.chdir(collection.parent)  # relative model and inputs: workers must be sent absolute paths
    shutil.copy(pretrained_path("ferplus"), "model.onnx")
    predict_table(["photos"], tmp_path / "local.parquet", model="model.onnx", out=None)
    with ray_head(num_cpus=2, token=False) as (address, env):
        r = run_cli("predict", "model.onnx", "photos", "--out", tmp_path / "ray.parquet", "--engine", "ray",
                    "--address", address, cwd=collection.parent, env=env)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "ray.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()


def test_missing_ray_or_pyarrow_is_one_line_naming_the_extra(collection, tmp_path):
    """Without the scale extra: one line naming it for --engine ray and for Parquet; CSV tables still work."""
    (tmp_path / "sitecustomize.py").write_text(blocking(["ray", "pyarrow"], ""))
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    for args in (["--out", tmp_path / "r.csv", "--engine", "ray"], ["--out", tmp_path / "p.parquet"]):
        r = run_cli("predict", collection, *args, env=env)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("fercsv: error: ") and "pip install 'fercsv[scale]'" in r.stderr
    assert not list(tmp_path.glob("*.parquet")) and not (tmp_path / "r.csv").exists()
    r = run_cli("predict", collection, "--out", tmp_path / "t.csv", env=env)
    assert r.returncode == 0 and (tmp_path / "t.csv").is_file(), r.stderr
    script = blocking(["ray", "pyarrow"], "import fercsv, fercsv.serve.engines, fercsv.serve.batch; print(sorted(m for m "
                                           "in sys.modules if m.split('.')[0] in ('ray', 'pyarrow')))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


@pytest.mark.parametrize("args, message", [
    (["--engine", "ray", "--out", "{tmp}/folder"], "engine 'ray' writes one face table, not a folder"),
    (["--workers", "2", "--out", "{tmp}/t.parquet"], "workers (CLI --workers) only apply to engine='ray'"),
    (["--address", "auto"], "address (CLI --address) only apply to engine='ray'"),
    (["--aggregate", "mean", "--out", "{tmp}/t.csv"], "aggregate_by (CLI --aggregate) only apply to the folder"),
    (["--out", "{tmp}/t.parquet", "--every", "0"], "argument --every: must be an integer >= 1"),
    (["--out", "{tmp}/t.parquet", "--start", "3", "--end", "1"], "end (1.0 s) must come after start (3.0 s)"),
    (["--engine", "spark"], "invalid choice: 'spark'"),
])
def test_bad_table_options_are_one_line(collection, tmp_path, args, message):
    r = run_cli("predict", collection, *[a.format(tmp=tmp_path) for a in args])
    assert r.returncode in (1, 2) and message in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(("fercsv: error:", "fercsv predict: error:"))
    assert not [p for p in tmp_path.iterdir()]  # nothing written
