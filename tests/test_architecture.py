"""The architecture contract of pyproject.toml, checked with import-linter on every test run."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(*args):
    return subprocess.run([str(LINT), *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ground_floor_contract_is_kept():
    r = _lint()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_the_contract_sees_imports_inside_functions(tmp_path):
    """A canary: demo imports the trainer only inside a function; forbidding it must break."""
    config = tmp_path / "canary.toml"
    config.write_text('[tool.importlinter]\nroot_package = "fercsv"\n\n'
                      '[[tool.importlinter.contracts]]\nname = "canary"\ntype = "forbidden"\n'
                      'source_modules = ["fercsv.demo"]\nforbidden_modules = ["fercsv.trainer"]\n')
    r = _lint("--config", str(config))
    assert r.returncode == 1 and "canary BROKEN" in r.stdout, r.stdout + r.stderr
