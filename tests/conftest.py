"""Shared fixtures: small real image folders built in tmp_path."""
import pytest

from helpers import face, write_image


@pytest.fixture
def split_folder(tmp_path):
    """A <split>/<label>/ folder of 48x48 PNGs: 3 per label in train, 1 in val and test."""
    root = tmp_path / "faces"
    k = 0
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        for label in ("angry", "happy", "sad"):
            for i in range(n):
                k += 1
                write_image(root / split / label / f"{label}_{i}.png", face(k, label))
    return root


@pytest.fixture(scope="session")
def synth_csv(tmp_path_factory):
    """A synthetic FER-style CSV with Training/PublicTest/PrivateTest rows."""
    from fercsv import synth_dataset
    from fercsv import write_csv

    path = tmp_path_factory.mktemp("data") / "synth.csv"
    write_csv(synth_dataset(per_class=40, seed=0), path)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, synth_csv):
    """A RUN_DIR of the default model trained for 3 epochs on synthetic faces."""
    import fercsv

    run = tmp_path_factory.mktemp("runs") / "tiny"
    # float32: the tests compare Keras with float32 exports (auto picks bfloat16 on AMX or AVX-512-BF16 CPUs).
    fercsv.train(synth_csv, run, epochs=3, batch_size=32, warmup_epochs=1, tta=False, verbose=0,
                 precision="float32", out=lambda m: None)
    return run


@pytest.fixture(scope="session")
def astronaut_bgr():
    """A real frontal face photo shipped with scikit-image (512x512), as BGR."""
    import cv2
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
