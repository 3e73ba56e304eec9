"""End-to-end frames/s of detect + crop + predict on 640x480 frames with one face.

Keras (one traced tf.function) against onnxruntime, same frames, same run;
also the first call against the tenth (no per-call graph retrace).

Usage: python benchmarks/bench_predict.py [--frames 100] [--run RUN_DIR]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure  # noqa: E402


def frame_with_face():
    try:
        from skimage import data

        face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
        frame = np.full((480, 640, 3), 70, np.uint8)
        frame[:, 80:560] = cv2.resize(face, (480, 480))
        return frame, "skimage astronaut in a 640x480 frame"
    except ImportError:
        from fercsv.data.synth import synth_photo

        photo, _ = synth_photo(n_faces=1, seed=0)
        return cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR), "synthetic face in a 640x480 frame"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--run", default=None, help="RUN_DIR or .keras (default: an untrained default model)")
    args = ap.parse_args()
    import fercsv
    from fercsv.vision.faces import detect_faces
    from fercsv.runtime.loading import load_model

    frame, what = frame_with_face()
    work = Path(tempfile.mkdtemp(prefix="fercsv-bench-"))
    if args.run:
        keras_model = load_model(args.run)
    else:
        keras_model = load_model(fercsv.build_model("fercnn"))
        keras_model.keras_model.save(work / "m.keras")
    source = args.run or work / "m.keras"
    fercsv.export_onnx(source, work / "m.onnx")
    onnx_model = load_model(work / "m.onnx")
    print(f"frames: {what}; faces found: {len(detect_faces(frame))}")
    frames = [np.roll(frame, i % 7, axis=1) for i in range(args.frames)]

    from fercsv.vision.faces import VIDEO_OPTIONS

    settings = {"photo": {}, "video": VIDEO_OPTIONS}
    for label, opts in settings.items():
        t = time.perf_counter()
        for f in frames:
            detect_faces(f, **opts)
        figure(f"face detection alone ({label} settings)", len(frames) / (time.perf_counter() - t), "frames/s",
               note=str(opts or "max_side=640, scale_factor=1.1"))
    for label, opts in settings.items():
        rates = {}
        for name, model in (("keras", keras_model), ("onnxruntime", onnx_model)):
            t0 = time.perf_counter()
            fercsv.predict(model, frames[0], **opts)
            first = time.perf_counter() - t0
            lat = []
            for f in frames[1:10]:
                t1 = time.perf_counter()
                fercsv.predict(model, f, **opts)
                lat.append(time.perf_counter() - t1)
            t = time.perf_counter()
            for f in frames:
                fercsv.predict(model, f, **opts)
            rates[name] = len(frames) / (time.perf_counter() - t)
            figure(f"detect+crop+predict {name} ({label})", rates[name], "frames/s",
                   rates[name] / rates["keras"] if name != "keras" else None, versus="keras",
                   note=f"first call {first * 1000:.0f} ms, tenth {lat[-1] * 1000:.1f} ms")
    for name, model in (("keras", keras_model), ("onnxruntime", onnx_model)):
        x = np.zeros((1, 48, 48, 1), np.float32)
        t = time.perf_counter()
        for _ in range(200):
            model.predict(x)
        figure(f"model alone {name} (batch 1)", 200 / (time.perf_counter() - t), "faces/s")


if __name__ == "__main__":
    main()
