"""The architecture: import-linter contracts of pyproject.toml, no import circle, no import of the
package root, every module in one subpackage, and a ground floor that starts without TensorFlow."""
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import fercsv

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
#: The floors, top to bottom, as README's Development section draws them.
FLOORS = ("cli", "serve", "export", "training", "runtime", "data", "vision", "core")


def _lint(*args):
    return subprocess.run([str(LINT), *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("fercsv")  # imports inside functions included


def _edges(graph):
    return {m: {d for d in graph.find_modules_directly_imported_by(m) if d.split(".")[0] == "fercsv"}
            for m in graph.modules}


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_contracts_are_kept():
    r = _lint()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout and "3 kept" in r.stdout, r.stdout


def test_the_contracts_see_imports_inside_functions(tmp_path):
    """A canary: the demo imports the trainer only inside a function; forbidding it must break."""
    config = tmp_path / "canary.toml"
    config.write_text('[tool.importlinter]\nroot_package = "fercsv"\n\n'
                      '[[tool.importlinter.contracts]]\nname = "canary"\ntype = "forbidden"\n'
                      'source_modules = ["fercsv.cli.demo"]\nforbidden_modules = ["fercsv.training.trainer"]\n')
    r = _lint("--config", str(config))
    assert r.returncode == 1 and "canary BROKEN" in r.stdout, r.stdout + r.stderr


def test_no_import_circle(graph):
    assert _cycles(_edges(graph)) == []


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_the_package_root(graph):
    edges = _edges(graph)
    assert sorted(m for m, targets in edges.items() if "fercsv" in targets) == []


def test_every_module_lives_in_one_floor(graph):
    """The root holds only __init__ and __main__; every other module sits in exactly one floor."""
    stray = sorted(m for m in graph.modules if m.count(".") == 1 and m.split(".")[1] not in FLOORS
                   and m not in ("fercsv.__main__",))
    assert stray == []
    assert sorted(p.name for p in (ROOT / "fercsv").glob("*.py")) == ["__init__.py", "__main__.py"]


def test_import_fercsv_needs_no_tensorflow():
    code = ("import sys, fercsv; fercsv.read_csv; fercsv.pretrained; "
            "assert not any(m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib', 'tf2onnx') "
            "for m in sys.modules), sorted(m for m in sys.modules if 'tensorflow' in m)[:3]; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_every_public_name_resolves_and_has_a_docstring():
    for name in fercsv.__all__:
        value = getattr(fercsv, name)
        assert value is not None, name
        if callable(value) and not isinstance(value, type(fercsv)):
            assert (value.__doc__ or "").strip(), f"fercsv.{name} has no docstring"
