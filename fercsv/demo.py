"""The end-to-end demo on embedded synthetic data: every step of the kit in one command."""
import tempfile
import time
from pathlib import Path


def demo(workdir=None, *, per_class=150, seed=0, epochs=None, core_only=False, out=print):
    """Run synth -> convert -> info -> split -> convert back in ``workdir`` and print each step.

    Later stages (training, evaluation, prediction, export) run when their
    extras are installed and ``core_only`` is false. Returns a dict of the paths written and figures reached.
    """
    from .convert import csv_to_folder, folder_to_csv
    from .dataset import read_csv
    from .info import info
    from .split import split_csv
    from .synth import synth

    work = Path(workdir or tempfile.mkdtemp(prefix="fercsv-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {"workdir": str(work)}
    t0 = time.perf_counter()
    faces = work / "faces"
    written = synth(faces, per_class=per_class, seed=seed)
    out(f"[1] synth: wrote {sum(written.values())} synthetic faces to {faces}/<split>/<label>/")
    csv_path = work / "faces.csv"
    report = folder_to_csv(faces, csv_path)
    out(f"[2] convert folder -> CSV: {report.rows} rows in {csv_path}")
    out("[3] info:\n" + "\n".join("    " + line for line in str(info(csv_path)).splitlines()))
    resplit = work / "faces_resplit.csv"
    ds = split_csv(csv_path, resplit, val=0.15, test=0.15, seed=seed)
    out(f"[4] split (stratified 70/15/15): {resplit} "
        f"({', '.join(f'{u} {int((ds.usage == u).sum())}' for u in ('Training', 'PublicTest', 'PrivateTest'))})")
    back = work / "faces_back"
    csv_to_folder(csv_path, back, overwrite=True)
    again = work / "faces_again.csv"
    folder_to_csv(back, again)
    same = csv_path.read_bytes() == again.read_bytes()
    out(f"[5] convert CSV -> folder -> CSV: {back}; round trip byte-identical: {same}")
    result.update(csv=str(csv_path), resplit=str(resplit), folder=str(back), round_trip=same)
    for stage in ([] if core_only else _upper_floor_stages()):
        stage(result, work, read_csv(csv_path), out=out, seed=seed, epochs=epochs)
    out(f"done in {time.perf_counter() - t0:.0f} s; everything is in {work}")
    return result


def _upper_floor_stages():
    """Stages that need the train/export extras; empty when TensorFlow is not installed."""
    try:
        import keras  # noqa: F401
        import sklearn  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print("(training, prediction and export stages skipped: pip install 'fercsv[all]')")
        return []
    from . import demo_stages

    return demo_stages.STAGES
