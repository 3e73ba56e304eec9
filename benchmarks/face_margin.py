"""Which crop margin makes a detected face look like a FER-2013 face (tight, eyebrows to chin)?

FER-2013 images are 48x48 crops. Each PublicTest image is enlarged 4x and set
in a wider frame (replicated borders) so the Haar detector can find it; then the
detected box is cropped with each margin and compared with the known crop:
the overlap (IoU) of the margin's square with the original 48x48 frame, and,
with --model, the accuracy of the detect-then-crop path against the given
crops on the same images. PublicTest only: it is the split that chooses.

Usage: python benchmarks/face_margin.py [--data FOLDER_OR_CSV] [--model RUN_DIR|.onnx] [--n 1000]
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fer_folder  # noqa: E402

MARGINS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
SCALE, BORDER = 4, 96


def square(box, margin):
    """The square crop_face takes around ``box`` with ``margin`` (x0, y0, side)."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    return x + w / 2 - side / 2, y + h / 2 - side / 2, side


def iou(a, b):
    ax, ay, aside = a
    bx, by, bside = b
    ix = max(0.0, min(ax + aside, bx + bside) - max(ax, bx))
    iy = max(0.0, min(ay + aside, by + bside) - max(ay, by))
    inter = ix * iy
    return inter / (aside ** 2 + bside ** 2 - inter)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="FER-2013 image folder/.tar.gz, or a FER-2013 CSV")
    ap.add_argument("--model", default=None, help="RUN_DIR, .keras or .onnx to measure accuracy")
    ap.add_argument("--n", type=int, default=1000, help="PublicTest images to try")
    args = ap.parse_args()
    import fercsv
    from fercsv.vision.faces import crop_face, detect_faces

    if args.data and Path(args.data).is_file() and ".csv" in Path(args.data).name:
        ds = fercsv.read_csv(args.data)
    else:
        folder = fer_folder(args.data)
        if folder is None:
            sys.exit("FER-2013 not found: pass --data or set FERCSV_DATA")
        ds = fercsv.read_folder(folder, keep_paths=False)
    val = ds.subset("PublicTest")
    rows = np.random.default_rng(0).permutation(len(val))[: args.n]
    frame = (BORDER, BORDER, 48 * SCALE)
    found, overlaps, crops = [], {m: [] for m in MARGINS}, {m: [] for m in MARGINS}
    geometry = []  # the FER frame relative to the detected box: side ratio, centre shift x, y
    for i in rows:
        big = cv2.resize(val.images[i], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)
        boxes = detect_faces(big)
        if not boxes:
            continue
        found.append(i)
        x, y, w, h = boxes[0]
        geometry.append((frame[2] / max(w, h), (frame[0] + frame[2] / 2 - x - w / 2) / w,
                         (frame[1] + frame[2] / 2 - y - h / 2) / h))
        for m in MARGINS:
            overlaps[m].append(iou(square(boxes[0], m), frame))
            crops[m].append(crop_face(big, boxes[0], margin=m))
    print(f"detected a face in {len(found)} of {len(rows)} PublicTest images "
          f"({len(found) / len(rows):.1%}), enlarged {SCALE}x in a {BORDER}px border")
    ratio, dx, dy = np.median(np.array(geometry), axis=0)
    print(f"the FER crop is {ratio:.3f}x the detected box's side (margin {(ratio - 1) / 2:+.3f}), "
          f"its centre {dx:+.3f} / {dy:+.3f} box widths right / down (medians)")
    model = fercsv.load_model(args.model) if args.model else None
    if model is not None:
        given = model.predict(val.images[found].astype(np.float32)[..., None] / 255.0).argmax(1)
        truth = val.labels[found]
        print(f"{'given 48x48 crops':<22} accuracy {np.mean(given == truth):.4f}")
    for m in MARGINS:
        line = f"margin {m:+.2f}: IoU with the FER crop {np.mean(overlaps[m]):.3f}"
        if model is not None:
            pred = model.predict(np.stack(crops[m]).astype(np.float32)[..., None] / 255.0).argmax(1)
            line += (f"  accuracy {np.mean(pred == truth):.4f}  agreement with given crops "
                     f"{np.mean(pred == given):.4f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
