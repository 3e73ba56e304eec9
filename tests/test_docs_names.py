"""Every dotted ``fercsv.x.y`` name used in the README, the starter notebook and examples/ resolves
after a bare ``import fercsv`` (checked in a fresh interpreter, so no other test preloads modules)."""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\bfercsv(?:\.[A-Za-z_]\w*)+")


def doc_names():
    texts = [(ROOT / "README.md").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "examples").glob("*.py"))]
    nb = json.loads((ROOT / "colab" / "fercsv_starter.ipynb").read_text())
    texts += ["".join(c["source"]) for c in nb["cells"]]
    return sorted({m for t in texts for m in NAME.findall(t)})


RESOLVE = """
import importlib, json, sys
import fercsv
bad = []
for name in json.loads(sys.argv[1]):
    obj = fercsv
    try:
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
    except AttributeError as exc:
        bad.append(f"{name}: {exc}")
print(json.dumps(bad))
"""


def test_every_documented_name_resolves_after_bare_import():
    names = doc_names()
    assert "fercsv.colab.take_photo" in names and "fercsv.read_csv" in names and len(names) > 15
    done = subprocess.run([sys.executable, "-c", RESOLVE, json.dumps(names)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_unknown_name_still_raises_attribute_error():
    import fercsv

    try:
        fercsv.no_such_thing
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("fercsv.no_such_thing resolved")
