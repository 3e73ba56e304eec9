"""Test helpers: run the real CLI, draw faces, write image files, block imports, start a Ray head."""
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np

from fercsv.data.synth import draw_face


def run_cli(*args, cwd=None, env=None):
    """Run the real ``fercsv`` CLI in a subprocess; returns CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return subprocess.run([sys.executable, "-m", "fercsv", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=900)


def face(seed, label="happy", size=48):
    return draw_face(label, np.random.default_rng(seed), size=size)


def write_image(path, img):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img), path
    return path


def write_video(path, frames, fps=10):
    """Write BGR ``frames`` as an mp4v video file; returns the path."""
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def free_port():
    """A localhost TCP port nobody listens on (just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def blocking(modules, code=""):
    """Python source that makes ``import`` of ``modules`` (top-level names) fail, followed by ``code``."""
    return textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split('.')[0] in {tuple(modules)!r}:
                    raise ImportError('No module named ' + repr(name))
        sys.meta_path.insert(0, Block())
    """) + textwrap.dedent(code)


def command_lines():
    """``{pid: command line}`` of the live processes, from /proc."""
    lines = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                lines[int(pid)] = fh.read()
        except OSError:
            continue
    return lines


def processes_mentioning(text):
    return [pid for pid, line in command_lines().items() if text.encode() in line and pid != os.getpid()]


@contextlib.contextmanager
def ray_head(env=None, *, num_cpus=1, token=True, timeout=240):
    """A Ray cluster started the way a user starts one (``ray start --head``) on localhost, a free
    port and its own short temp dir (Ray's socket paths must fit 107 bytes); with ``token``, token
    authentication on a token of its own. Yields its address and the environment that reaches it.
    Stopped by its process group, and any of its processes that left the group are killed."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    env = dict(os.environ if env is None else env)
    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)} if token
               else {"RAY_AUTH_MODE": "disabled"})
    log = Path(temp) / "head.log"
    with open(log, "w") as fh:
        head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                                 "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={num_cpus}",
                                 f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=60)
        for pid in processes_mentioning(temp):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
