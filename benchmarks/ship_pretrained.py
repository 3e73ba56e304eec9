"""Turn a finished RUN_DIR into a pretrained model shipped inside the package (fercsv/weights/).

Exports the best model to ONNX (verified against Keras), stores its weights as
float16 (a Cast back to float32 at load, so onnxruntime computes in float32),
checks the float16 file against the float32 export on the selection split
(PublicTest), and writes the model card: labels, input contract, the training
command, seed and settings, and the accuracies the run measured (PrivateTest
once, in the run's own report).

Usage: python benchmarks/ship_pretrained.py RUN_DIR NAME --data CSV_OR_FOLDER --command "..."
"""
import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LICENCE = ("Weights trained by fercsv's own scripts on FER-2013 (Goodfellow et al. 2013, ICML 2013 "
           "challenge data, released for research; no open licence is stated){}. Use for research "
           "and education; check the data's terms before any other use.")


def half_weights(src, dst, *, min_size=16):
    """Write ``dst``: the ONNX ``src`` with float32 initializers stored as float16 + a Cast node."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < min_size:
            keep.append(init)
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16")
        keep.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=init.name + "_to_fp32"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def _accuracy(session, images, labels):
    probs = []
    for lo in range(0, len(images), 512):
        x = images[lo:lo + 512].astype(np.float32)[..., None] / 255.0
        probs.append(session.run(None, {session.get_inputs()[0].name: x})[0])
    probs = np.concatenate(probs)
    return probs, float(np.mean(probs.argmax(1) == labels))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("name", choices=("fer2013", "ferplus"))
    ap.add_argument("--data", required=True, help="the run's data (CSV or image folder) for the PublicTest check")
    ap.add_argument("--command", required=True, help="the exact command that trained the run")
    ap.add_argument("--out", default=str(ROOT / "fercsv" / "weights"))
    args = ap.parse_args()
    import onnxruntime as ort

    import fercsv

    run = Path(args.run_dir)
    done = json.loads((run / "done.json").read_text())
    config = json.loads((run / "config.json").read_text())
    report = json.loads((run / "report.json").read_text())
    data = Path(args.data)
    ds = fercsv.read_folder(data, keep_paths=False) if data.is_dir() else fercsv.read_csv(data)
    val = ds.subset("PublicTest")
    tmp = Path(tempfile.mkdtemp())
    full, half = tmp / "full.onnx", tmp / f"{args.name}.onnx"
    fercsv.export_onnx(run, full, data=val)
    half_weights(full, half)
    opts = ort.SessionOptions()
    s_full = ort.InferenceSession(str(full), opts, providers=["CPUExecutionProvider"])
    s_half = ort.InferenceSession(str(half), opts, providers=["CPUExecutionProvider"])
    p_full, acc_full = _accuracy(s_full, val.images, val.labels)
    p_half, acc_half = _accuracy(s_half, val.images, val.labels)
    agree = float(np.mean(p_full.argmax(1) == p_half.argmax(1)))
    diff = float(np.abs(p_full - p_half).max())
    digest = hashlib.sha256(half.read_bytes()).hexdigest()
    card = {
        "name": args.name,
        "labels": config["label_names"],
        "input": {"name": "image", "shape": "N,48,48,1", "dtype": "float32", "range": "[0, 1] grayscale",
                  "face_crop": "tight, eyebrows to chin, as FER-2013"},
        "command": args.command,
        "seed": config["settings"]["seed"],
        "settings": config["all_settings"],
        "precision_trained": config["precision"],
        "data": {"trained_on": "Training", "chosen_on": "PublicTest", "reported_on": "PrivateTest",
                 "n_train": config["n_train"], "n_val": config["n_val"], "source": config["data"]},
        "training": {"epochs_run": done["epochs_run"], "best_epoch": done["best_epoch"],
                     "minutes": round(done["seconds"] / 60, 1)},
        "accuracy": {"PublicTest_best_epoch": round(done["best_val_accuracy"], 4),
                     "PublicTest_shipped_float16": round(acc_half, 4),
                     "PublicTest_float32_export": round(acc_full, 4),
                     "PrivateTest": {k: v for k, v in report.items()
                                     if k in ("accuracy", "accuracy_no_tta", "tta", "macro_f1", "n")}},
        "float16_check_on_PublicTest": {"top1_agreement": round(agree, 5), "max_abs_diff": round(diff, 5)},
        "versions": config["versions"],
        "licence": LICENCE.format(" with FER+ labels (Microsoft, MIT licence)" if args.name == "ferplus" else ""),
        "sha256": digest,
        "made": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(half, out / half.name)
    (out / f"{args.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"{args.name}: {half.stat().st_size / 1e6:.2f} MB (float32 export {full.stat().st_size / 1e6:.2f} MB); "
          f"PublicTest {acc_half:.4f} float16 vs {acc_full:.4f} float32, top-1 agreement {agree:.5f}, "
          f"max |diff| {diff:.5f}")
    print(json.dumps(card["accuracy"], indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
