"""convert --shard K/N: shards 1..N joined by concat are the single run, byte for byte."""
import json
import zipfile

import numpy as np
import pytest
from helpers import run_cli
from test_ferplus import _row, _votes_file

import fercsv
from fercsv.cli import main


@pytest.fixture
def faces(split_folder):
    """15 images in <split>/<label>/ folders, with a corrupt image and a text file among them."""
    (split_folder / "train" / "happy" / "broken.png").write_bytes(b"not a png")
    (split_folder / "train" / "notes.txt").write_text("not an image")
    return split_folder


def shard_outputs(src, out_dir, n, *extra, suffix=".csv"):
    """Run ``fercsv convert SRC part-K --shard K/N`` for K = 1..N through main(); the parts' paths."""
    parts = []
    for k in range(1, n + 1):
        part = out_dir / f"part-{k}{suffix}"
        assert main(["convert", str(src), str(part), "--shard", f"{k}/{n}", "--quiet", *extra]) == 0
        parts.append(part)
    return parts


@pytest.mark.parametrize("n, extra", [(1, []), (3, []), (4, ["--shuffle", "--seed", "7"]),
                                      (30, ["--equalize", "--size", "24"])])
def test_folder_shards_joined_are_the_single_run(tmp_path, faces, n, extra):
    single = tmp_path / "single.csv"
    assert main(["convert", str(faces), str(single), "--quiet", *extra]) == 0
    parts = shard_outputs(faces, tmp_path, n, *extra)
    joined = tmp_path / "joined.csv"
    report = fercsv.concat([str(tmp_path / "part-*.csv")], joined)
    assert report.sources == [str(p) for p in parts]  # natural order: part-10 after part-9
    assert joined.read_bytes() == single.read_bytes()
    assert report.rows == 15 == len(fercsv.read_csv(single))
    sizes = [len(fercsv.read_csv(p)) for p in parts]
    # shards split the 16 inputs (the broken one among them): of 30 shards, most hold only the header
    assert sum(sizes) == 15 and max(sizes) - min(sizes) <= 2


def test_gzip_shards_of_an_archive_join_to_the_single_run(tmp_path, faces):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(faces.rglob("*")):
            if path.is_file():
                z.write(path, f"faces/{path.relative_to(faces).as_posix()}")
    single = tmp_path / "single.csv.gz"
    fercsv.convert(archive, single, shuffle=True, seed=3)
    parts, skipped = [tmp_path / f"p{k}.csv.gz" for k in (1, 2, 3)], []
    for k, part in enumerate(parts, 1):
        report = fercsv.convert(archive, part, shuffle=True, seed=3, shard=f"{k}/3")
        assert report.shard == f"{k}/3" and f"(shard {k}/3)" in str(report)
        skipped += report.skipped
    assert skipped == [(f"{archive}/faces/train/happy/broken.png", "cannot decode image")]  # one shard's
    fercsv.concat(parts, tmp_path / "joined.csv.gz")
    assert (tmp_path / "joined.csv.gz").read_bytes() == single.read_bytes()  # the gzip stream too
    fercsv.concat(parts, tmp_path / "joined.csv")
    assert fercsv.read_csv(tmp_path / "joined.csv").images.tolist() == fercsv.read_csv(single).images.tolist()


def test_csv_to_folder_shards_fill_one_folder_like_a_single_run(tmp_path, synth_csv):
    single, shared = tmp_path / "single", tmp_path / "shared"
    fercsv.convert(synth_csv, single)
    for k in (3, 1, 2):  # any order, side by side in one folder
        report = fercsv.convert(synth_csv, shared, shard=f"{k}/3")
        assert report.shard == f"{k}/3"
    files = sorted(p.relative_to(single) for p in single.rglob("*.png"))
    assert files == sorted(p.relative_to(shared) for p in shared.rglob("*.png"))
    assert all((single / f).read_bytes() == (shared / f).read_bytes() for f in files)
    # a shard run again refuses to replace its images, unless told to
    before = {f: (shared / f).stat().st_mtime_ns for f in files}
    code = main(["convert", str(synth_csv), str(shared), "--shard", "2/3", "--quiet"])
    assert code == 1 and before == {f: (shared / f).stat().st_mtime_ns for f in files}
    assert main(["convert", str(synth_csv), str(shared), "--shard", "2/3", "--quiet", "--overwrite"]) == 0
    assert sorted(p.relative_to(shared) for p in shared.rglob("*.png")) == files


def test_ferplus_shards_join_to_the_single_run(tmp_path):
    ds = fercsv.synth_dataset(per_class=2, seed=4)
    src = fercsv.write_csv(ds, tmp_path / "fer2013.csv")
    votes = [_row(happiness=7, surprise=3)] * len(ds)
    votes[2], votes[len(ds) - 1] = _row(NF=10), _row(contempt=6, neutral=4)
    vfile = _votes_file(tmp_path / "fer2013new.csv", votes, ds.usage)
    fercsv.convert(src, tmp_path / "single.csv", ferplus=vfile, ferplus_mode="probability")
    parts = shard_outputs(src, tmp_path, 4, "--ferplus", str(vfile), "--ferplus-mode", "probability")
    assert main(["concat", *map(str, parts), str(tmp_path / "joined.csv")]) == 0
    assert (tmp_path / "joined.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()


@pytest.mark.parametrize("spec", ["0/4", "5/4", "x", "1/0", "-1/4", "2"])
def test_bad_shards_are_refused_before_anything_is_read_or_written(tmp_path, faces, spec):
    out = run_cli("convert", faces, tmp_path / "out.csv", f"--shard={spec}")
    assert out.returncode == 1
    assert out.stderr.strip() == ("fercsv: error: convert: shard (CLI --shard) must be K/N with "
                                  f"1 <= K <= N, e.g. 1/4 for the first of four; got {spec!r}")
    assert not (tmp_path / "out.csv").exists()
    # checked first: even a missing source is not looked at
    for func in (fercsv.folder_to_csv, fercsv.csv_to_folder):
        with pytest.raises(fercsv.BadInputError, match=f"{func.__name__}: shard .* got {spec!r}"):
            func(tmp_path / "missing", tmp_path / "out", shard=spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces"]


def test_shard_report_and_json(tmp_path, faces):
    out = run_cli("convert", faces, tmp_path / "p.csv", "--shard", "2/2", "--quiet", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["shard"] == "2/2" and report["rows"] == 8 and report["skipped"] == []  # inputs 9..16
    whole = fercsv.read_csv(fercsv.folder_to_csv(faces, tmp_path / "all.csv").destination)
    part = fercsv.read_csv(tmp_path / "p.csv")
    assert np.array_equal(part.images, whole.images[-8:]) and part.usage.tolist() == whole.usage[-8:].tolist()
