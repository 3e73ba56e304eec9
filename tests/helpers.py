"""Test helpers: run the real CLI, draw faces, write image files."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from fercsv.synth import draw_face


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
