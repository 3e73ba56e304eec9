import json
import subprocess
import sys
import textwrap

from fercsv import read_csv
from fercsv.cli import main
from helpers import run_cli


def test_convert_both_directions_through_cli(split_folder, tmp_path):
    r = run_cli("convert", split_folder, tmp_path / "f.csv.gz", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "wrote 15 images" in r.stdout and "Training: 9" in r.stdout
    r = run_cli("convert", tmp_path / "f.csv.gz", tmp_path / "back", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "back").rglob("*.png"))) == 15
    r = run_cli("convert", tmp_path / "back", tmp_path / "g.csv", "--quiet", "--json")
    report = json.loads(r.stdout)
    assert report["rows"] == 15 and report["skipped"] == []
    assert len(read_csv(tmp_path / "g.csv")) == 15


def test_errors_are_one_line_without_traceback(split_folder, tmp_path):
    (split_folder / "train" / "happy" / "bad.png").write_bytes(b"")
    r = run_cli("convert", split_folder, tmp_path / "s.csv", "--strict", "--quiet")
    assert r.returncode == 1
    assert r.stderr.startswith("fercsv: error: ") and "bad.png: empty file" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "s.csv").exists()
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n1,1 2 3 4,Training\n1,1 2 x 4,Training\n")
    r = run_cli("convert", tmp_path / "bad.csv", tmp_path / "out")
    assert r.returncode == 1 and "bad.csv: line 3: non-integer token 'x'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("convert", tmp_path / "bad.csv", tmp_path / "out2", "--skip-bad-rows", "--quiet")
    assert r.returncode == 0 and "line 3: non-integer token 'x'" in r.stdout
    r = run_cli("info", tmp_path / "missing.csv")
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run_cli("convert")
    assert r.returncode == 2


def test_main_in_process(split_folder, tmp_path, capsys):
    assert main(["convert", str(split_folder), str(tmp_path / "m.csv"), "--quiet"]) == 0
    assert "wrote 15 images" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "x.csv")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_core_works_without_tensorflow(split_folder, tmp_path):
    """Block TensorFlow, tf2onnx and matplotlib imports, then run every core verb."""
    script = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'matplotlib', 'onnxruntime'):
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        import fercsv
        from fercsv.cli import main
        assert main(['convert', r'{split_folder}', r'{tmp_path / "a.csv"}', '--quiet']) == 0
        assert main(['info', r'{tmp_path / "a.csv"}']) == 0
        assert main(['split', r'{tmp_path / "a.csv"}', r'{tmp_path / "b.csv"}']) == 0
        assert main(['convert', r'{tmp_path / "b.csv"}', r'{tmp_path / "back"}', '--quiet']) == 0
        assert main(['demo', '--workdir', r'{tmp_path / "demo"}', '--per-class', '3']) == 0
        assert not any(m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib') for m in sys.modules)
        print('core-ok')
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "core-ok" in r.stdout
