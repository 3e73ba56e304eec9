"""Face detection recall of fercsv.vision.faces on real face images.

Sets: scikit-image's LFW subset (100 real face crops, 25x25) and, when
available, a sample of FER-2013 PrivateTest faces (48x48); each image is
upscaled 4x and padded so the face looks like one in a photo.

Usage: python benchmarks/bench_faces.py [--data PATH] [--n 1000]
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder, figure  # noqa: E402


def as_photo(face):
    big = cv2.resize(face, (face.shape[1] * 4, face.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    pad = big.shape[0] // 2
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def recall(faces, **options):
    from fercsv.vision.faces import detect_faces

    return float(np.mean([bool(detect_faces(as_photo(f), **options)) for f in faces]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    from skimage import data

    lfw = data.lfw_subset()[:100]
    lfw = (lfw * 255).astype(np.uint8) if lfw.dtype != np.uint8 else lfw
    from fercsv.vision.faces import VIDEO_OPTIONS

    for nb in (5, 3):
        figure(f"recall LFW subset (100), neighbors={nb}", recall(lfw, min_neighbors=nb) * 100, "%")
    figure("recall LFW subset (100), video settings", recall(lfw, **VIDEO_OPTIONS) * 100, "%")
    folder = fer_folder(args.data)
    if folder is not None:
        import fercsv

        ds = fercsv.read_folder(Path(folder) / "test", keep_paths=False).subset("PrivateTest")
        rows = np.random.default_rng(0).permutation(len(ds))[: args.n]
        for nb in (5, 3):
            figure(f"recall FER-2013 PrivateTest ({len(rows)}), neighbors={nb}",
                   recall(ds.images[rows], min_neighbors=nb) * 100, "%")
        figure(f"recall FER-2013 PrivateTest ({len(rows)}), video settings",
               recall(ds.images[rows], **VIDEO_OPTIONS) * 100, "%")


if __name__ == "__main__":
    main()
