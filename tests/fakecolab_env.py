"""Put the stand-in ``google.colab`` (tests/fakecolab) in place for a test, with its settings."""
import contextlib
import json
import sys
from pathlib import Path

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
