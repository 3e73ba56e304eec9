"""CLI verbs of the upper floor: train, evaluate, predict, frames, export, download.

Their modules import TensorFlow, onnxruntime or gdown lazily, inside each command.
"""
import argparse
import json
from pathlib import Path

from .evaluation import TTA_MODES  # numpy only; TensorFlow is imported when a model is loaded

_HELP = argparse.ArgumentDefaultsHelpFormatter
TTA_CHOICES = tuple(TTA_MODES)
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def _cmd_train(a):
    from .trainer import train

    result = train(a.data, a.out, model=a.model, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                   restart=a.restart, backbone=a.backbone,
                   weights=None if (a.weights or "none").lower() == "none" else a.weights,
                   schedule=a.schedule, augment=not a.no_augment, class_weight=a.class_weight,
                   balance=a.balance, patience=a.patience, precision=a.precision, seed=a.seed,
                   label_smoothing=a.label_smoothing, time_limit_minutes=a.time_limit,
                   tta=False if a.no_tta else a.tta)
    print(result)


def _cmd_evaluate(a):
    from .evaluation import evaluate

    report = evaluate(a.model, a.data, split=None if a.split == "all" else a.split, tta=a.tta,
                      out_dir=a.out)
    print(json.dumps(report.to_dict(), indent=1) if a.json else report)


def _cmd_predict(a):
    from .modelio import load_model
    from .prediction import predict_files

    model = load_model(a.model)
    options = {"detect": not a.no_detect, "equalize": a.equalize}
    videos = [p for p in a.inputs if Path(p).suffix.lower() in VIDEO_EXTENSIONS]
    images = [p for p in a.inputs if p not in videos]
    for v in videos:
        from .video import predict_video

        out = Path(a.out) / Path(v).stem if len(videos) > 1 or images else Path(a.out)
        print(predict_video(model, v, out, aggregate_by=a.aggregate, second_half=a.second_half,
                            every=a.every, **options))
    if images:
        rows = predict_files(model, images, a.out, **options)
        for r in rows:
            print(f"{r['file']}: " + (f"face {r['face']} {r['label']} {r['score']:.0%} at {r['box']}"
                                     if r["label"] else "no face found"))
        print(f"annotated images and predictions.csv/json in {a.out}")


def _cmd_frames(a):
    from .video import extract_frames

    n = extract_frames(a.video, a.outdir, every=a.every)
    print(f"wrote {n} frames to {a.outdir}")


def _cmd_export(a):
    from . import export

    if a.format == "onnx":
        report = export.export_onnx(a.model, a.out, opset=a.opset, nchw=a.nchw, verify=not a.no_verify,
                                    data=a.data)
    elif a.format == "tflite":
        report = export.export_tflite(a.model, a.out, quantize=a.quantize, data=a.data)
    else:
        report = export.export_om(a.model, a.out, soc_version=a.soc_version, batch=a.batch,
                                  dynamic_batch=a.dynamic_batch, dry_run=a.dry_run)
        if a.dry_run:
            print(report.details["command"])
            return
    print(report)


def _cmd_download(a):
    from .fetch import download

    path = download(a.source, a.dest, md5=a.md5, sha256=a.sha256, quiet=a.quiet, folder=a.folder,
                    force=a.force)
    print(f"downloaded {a.source} to {path}")


def _register_train(sub):
    t = sub.add_parser("train", formatter_class=_HELP, help="train a CNN on a FER-2013 CSV into RUN_DIR")
    t.add_argument("data", help="CSV (Training rows train, PublicTest validates, PrivateTest is reported)")
    t.add_argument("--out", required=True, help="RUN_DIR (may be on Google Drive); rerun to resume")
    t.add_argument("--model", default="fercnn", choices=("fercnn", "seed-cnn"))
    t.add_argument("--backbone", default=None, help="keras.applications backbone, e.g. vgg16")
    t.add_argument("--weights", default="none", help="backbone weights: none or imagenet (downloads)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--schedule", choices=("cosine", "plateau"), default="cosine")
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--no-augment", action="store_true")
    t.add_argument("--class-weight", choices=("balanced",), default=None, help="cost-sensitive loss")
    t.add_argument("--balance", choices=("undersample", "oversample"), default=None)
    t.add_argument("--patience", type=int, default=10, help="early stopping patience (0: off)")
    t.add_argument("--precision", default="auto", choices=("auto", "float32", "float16", "bfloat16"))
    t.add_argument("--time-limit", type=float, default=None, help="stop after this many minutes")
    t.add_argument("--tta", default="flip+zoom", choices=TTA_CHOICES,
                   help="test-time augmentation of the final PrivateTest report")
    t.add_argument("--no-tta", action="store_true", help="same as --tta none")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--restart", action="store_true", help="discard RUN_DIR's state and start over")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", formatter_class=_HELP, help="score a model on a CSV split")
    e.add_argument("model", help="RUN_DIR, .keras or .onnx")
    e.add_argument("data", help="CSV with labels")
    e.add_argument("--split", default="PrivateTest", help="Training, PublicTest, PrivateTest or all")
    e.add_argument("--tta", nargs="?", const="flip", default="none", choices=TTA_CHOICES,
                   help="average over augmented views: flip (mirrored faces; the default when given "
                        "without a value) or flip+zoom (six views)")
    e.add_argument("--out", default=None, help="folder for report.json and confusion.png")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_cmd_evaluate)


def _register_predict(sub):
    p = sub.add_parser("predict", formatter_class=_HELP,
                       help="predict emotions on photos or videos; write annotated copies")
    p.add_argument("model", help="RUN_DIR, .keras or .onnx")
    p.add_argument("inputs", nargs="+", help="image files and/or videos")
    p.add_argument("--out", default="predictions", help="output folder")
    p.add_argument("--no-detect", action="store_true", help="inputs are already-cropped faces")
    p.add_argument("--equalize", action="store_true", help="equalize faces (if the model was trained so)")
    p.add_argument("--aggregate", choices=("vote", "mean"), default="vote", help="video-level emotion")
    p.add_argument("--second-half", action="store_true", help="aggregate only the later half of a video")
    p.add_argument("--every", type=int, default=1, help="use every N-th video frame")
    p.set_defaults(func=_cmd_predict)

    f = sub.add_parser("frames", formatter_class=_HELP, help="extract the frames of a video")
    f.add_argument("video")
    f.add_argument("outdir")
    f.add_argument("--every", type=int, default=1)
    f.set_defaults(func=_cmd_frames)


def _register_export(sub):
    x = sub.add_parser("export", formatter_class=_HELP, help="export a model: onnx, om (Ascend), tflite")
    xs = x.add_subparsers(dest="format", required=True, metavar="FORMAT")
    o = xs.add_parser("onnx", formatter_class=_HELP, help="ONNX via tf2onnx, verified with onnxruntime")
    o.add_argument("model", help="RUN_DIR or .keras")
    o.add_argument("out", help="output .onnx")
    o.add_argument("--opset", type=int, default=13)
    o.add_argument("--nchw", action="store_true", help="input N,1,H,W (for Ascend atc)")
    o.add_argument("--no-verify", action="store_true")
    o.add_argument("--data", default=None, help="CSV whose images verify the export (default: random)")
    o.set_defaults(func=_cmd_export)
    m = xs.add_parser("om", formatter_class=_HELP, help="Ascend OM via atc from an NCHW ONNX model")
    m.add_argument("model", help="NCHW .onnx (fercsv export onnx ... --nchw)")
    m.add_argument("out", help="output prefix (atc adds .om)")
    m.add_argument("--soc-version", default="Ascend310")
    g = m.add_mutually_exclusive_group()
    g.add_argument("--batch", type=int, default=1)
    g.add_argument("--dynamic-batch", default=None, help="batch gears, e.g. 1,2,4,8")
    m.add_argument("--dry-run", action="store_true", help="print the atc command and exit")
    m.set_defaults(func=_cmd_export)
    t = xs.add_parser("tflite", formatter_class=_HELP, help="TFLite, verified with the TFLite interpreter")
    t.add_argument("model", help="RUN_DIR or .keras")
    t.add_argument("out", help="output .tflite")
    t.add_argument("--quantize", choices=("float16", "int8"), default=None)
    t.add_argument("--data", default=None, help="CSV for int8 calibration and the accuracy check")
    t.set_defaults(func=_cmd_export)


def _register_download(sub):
    d = sub.add_parser("download", formatter_class=_HELP,
                       help="download a Google Drive file/folder or URL (gdown), cached and verified")
    d.add_argument("source", help="Drive share link, Drive file ID, or http(s) URL")
    d.add_argument("dest", nargs="?", default=None, help="file or folder (default: the fercsv cache)")
    d.add_argument("--md5", default=None)
    d.add_argument("--sha256", default=None)
    d.add_argument("--folder", action="store_true", help="the link is a Drive folder")
    d.add_argument("--force", action="store_true", help="download again even if cached")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_cmd_download)


REGISTER = [_register_train, _register_predict, _register_export, _register_download]
