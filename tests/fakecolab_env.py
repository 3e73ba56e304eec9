"""Put the stand-in ``google.colab`` (tests/fakecolab) in place for a test, with its settings."""
import contextlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

FAKECOLAB = Path(__file__).resolve().parent / "fakecolab"


def use_fakecolab(monkeypatch, **settings):
    """Make ``import google.colab`` find the stand-in; ``settings`` become FAKECOLAB_<NAME> variables."""
    # Recorded by monkeypatch, so the stand-in leaves sys.modules when the test ends.
    for name in ["google.colab", *(f"google.colab.{m}" for m in ("output", "drive", "userdata"))]:
        monkeypatch.setitem(sys.modules, name, None)
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(FAKECOLAB))
    for key, value in settings.items():
        monkeypatch.setenv(f"FAKECOLAB_{key.upper()}", str(value))
    import google.colab

    assert Path(google.colab.__file__).is_relative_to(FAKECOLAB)
    return google.colab


@contextlib.contextmanager
def colab_secrets(monkeypatch, tmp_path, secrets):
    path = tmp_path / "colab-secrets.json"
    path.write_text(json.dumps(secrets))
    yield use_fakecolab(monkeypatch, secrets=path)


def write_y4m(path, frame_bgr, n_frames=10):
    """A YUV4MPEG2 (4:2:0) file showing ``frame_bgr``, for Chromium's fake camera."""
    h, w = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(n_frames):
            fh.write(b"FRAME\n" + i420)
    return path


def astronaut_camera(path, astronaut_bgr):
    """A 640x480 fake-camera file showing a real face (scikit-image's astronaut) in the middle."""
    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 64:576] = cv2.resize(astronaut_bgr, (512, 480))
    return write_y4m(path, frame)
