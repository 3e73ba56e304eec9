"""Every dotted ``fercsv.x.y`` name used in the README, the starter notebook and examples/ resolves
after a bare ``import fercsv`` (checked in a fresh interpreter, so no other test preloads modules),
and every public callable has a docstring example that runs with the package's doctests."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


# ---- every public callable has a docstring example that runs with the tests -----------------------

#: Public names whose example is being written in a file this test's author does not own (issue 19,
#: item 2). The test fails as soon as one of them has an example, so that it comes off this list.
PENDING = set()


def public_callables():
    """``{name: object}`` of the callables in ``fercsv.__all__`` (functions and classes)."""
    import fercsv

    return {name: getattr(fercsv, name) for name in fercsv.__all__ if callable(getattr(fercsv, name))}


def runnable_examples(obj):
    """The examples of ``obj``'s docstring that doctest runs (not ``+SKIP``), as found in the module
    the doctest run collects them from (the one ``obj.__module__`` names: for the error classes,
    which say they are ``fercsv.X``, the package root)."""
    import doctest

    module = sys.modules[obj.__module__]
    name = f"{module.__name__}.{obj.__qualname__}"
    for test in doctest.DocTestFinder().find(module):
        if test.name == name:
            return [ex for ex in test.examples if not ex.options.get(doctest.SKIP)]
    return []


def missing_examples(objects):
    """Names of ``objects`` (``{name: object}``) without a runnable example, sorted."""
    return sorted(name for name, obj in objects.items() if not runnable_examples(obj))


def test_the_package_doctests_run_with_the_tests():
    """pytest runs the doctests of every module of the package (pyproject.toml), which is where
    the examples checked below live."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split() and "fercsv" in options["testpaths"]
    package = ROOT / "fercsv"
    for name, obj in public_callables().items():
        module = Path(sys.modules[obj.__module__].__file__).resolve()
        assert package in module.parents, f"fercsv.{name} is defined in {module}, outside {package}"


def test_every_public_callable_has_an_example_that_runs():
    objects = public_callables()
    assert {"FERDataset", "TrainConfig", "FercsvError", "launch_app", "train"} <= set(objects)
    missing = missing_examples(objects)
    assert [n for n in missing if n not in PENDING] == [], (
        "these public names have no docstring example that runs (one without '# doctest: +SKIP'): "
        + ", ".join(n for n in missing if n not in PENDING))
    assert sorted(PENDING - set(missing)) == [], "these have an example now: take them off PENDING"


def test_the_check_finds_a_name_without_a_runnable_example(monkeypatch):
    import fercsv

    assert missing_examples({"split": fercsv.split, "FercsvError": fercsv.FercsvError}) == []
    monkeypatch.setattr(fercsv.split, "__doc__", "Split a dataset (no example).")
    monkeypatch.setattr(fercsv.FercsvError, "__doc__", "Base class.\n\n>>> 1 + 1  # doctest: +SKIP\n2\n")
    assert missing_examples({"split": fercsv.split, "FercsvError": fercsv.FercsvError,
                             "balance": fercsv.balance}) == ["FercsvError", "split"]
