"""fercsv.environment.describe() reports versions, device and Drive, with or without TensorFlow."""
import subprocess
import sys

import fercsv


def test_describe_reports_versions_device_and_drive():
    env = fercsv.environment.describe(print_it=False)
    text = str(env)
    assert text.startswith(f"fercsv {fercsv.__version__} | Python ")
    assert env.tensorflow and f"TensorFlow {env.tensorflow}, Keras {env.keras}" in text
    assert "device: " in text and "Google Drive: not mounted" in text and "Colab: no" in text


def test_describe_works_without_tensorflow():
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "import fercsv; env = fercsv.environment.describe()\n"
            "assert env.tensorflow is None and env.device in ('CPU', 'GPU', 'TPU'), env\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TensorFlow not installed (pip install 'fercsv[train]' to train)" in done.stdout
