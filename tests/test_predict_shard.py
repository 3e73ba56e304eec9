"""predict --shard K/N: shards 1..N joined by ``fercsv concat`` are the single run's table, byte for byte."""
import pytest

from fercsv.cli import main
from fercsv.serve.inputs import expand_inputs
from helpers import run_cli
from test_predict_ray import collection  # noqa: F401 - the fixture: photos, a blank, a corrupt file, a video

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


@pytest.mark.parametrize("suffix, n", [(".parquet", 3), (".csv", 4),
                                       pytest.param(".parquet", 12, marks=pytest.mark.slow)])  # 12 > 9 inputs:
def test_shards_joined_are_the_single_run(collection, tmp_path, suffix, n):  # noqa: F811 - some shards are empty
    video = ["--every", "3", "--end", "1"]
    single = tmp_path / f"single{suffix}"
    assert main(["predict", str(collection), "--out", str(single), *video]) == 0
    parts = []
    for k in range(1, n + 1):
        parts.append(tmp_path / f"part-{k}{suffix}")
        assert main(["predict", str(collection), "--out", str(parts[-1]), "--shard", f"{k}/{n}", *video]) == 0
    order = [str(f) for f, _ in expand_inputs([collection])[0]]
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    for k, part in enumerate(parts):  # each shard holds the sources of its own contiguous block only
        sources = set(read(part)["source"])
        block = set(order[k * len(order) // n:(k + 1) * len(order) // n])
        assert sources <= block
    r = run_cli("concat", tmp_path / f"part-*{suffix}", tmp_path / f"joined{suffix}")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / f"joined{suffix}").read_bytes() == single.read_bytes()
    assert len(read(single)) == sum(len(read(p)) for p in parts) > 0


def test_shard_without_out_writes_its_own_table(collection, tmp_path):  # noqa: F811
    r = run_cli("predict", collection, "--shard", "2/3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "shard 2/3" in r.stdout and [p.name for p in tmp_path.iterdir()] == ["predictions-2-of-3.parquet"]


@pytest.mark.parametrize("args, message", [
    (["--shard", "0/3"], "predict: shard (CLI --shard) must be K/N with 1 <= K <= N, e.g. 1/4 for the first of "
                         "four; got '0/3'"),
    (["--shard", "4/3"], "got '4/3'"),
    (["--shard", "half"], "got 'half'"),
    (["--shard", "1/2", "--out", "{tmp}/folder"], "a shard (fercsv concat joins their tables) writes one face "
                                                  "table, not a folder; give --out folder.parquet (or .csv)"),
])
def test_bad_shard_is_one_line(collection, tmp_path, args, message):  # noqa: F811
    r = run_cli("predict", collection, *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("fercsv: error: ") and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not list(tmp_path.iterdir())
