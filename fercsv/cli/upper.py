"""CLI verbs of the upper floor: train, evaluate, predict, frames, export, download.

``fercsv.cli`` imports this module only when one of these verbs (or the full help) is
asked for. Their libraries import TensorFlow, onnxruntime or gdown inside functions.
To add verbs, append a ``register(subparsers)`` function to :data:`REGISTER`.
"""
from .main import emit, fraction, given, option, positive_int, verb


def _none_or_text(text):
    return None if text.strip().lower() in ("", "none") else text


def _cmd_train(a):
    from ..training.trainer import train

    print(train(**given(a)))


def _cmd_evaluate(a):
    from ..training.evaluation import evaluate

    options = given(a, drop=("model", "data"))
    emit(evaluate(getattr(a, "model", None), a.data, **options), a)


def _split_model(a):
    """``predict [MODEL] INPUT...``: the first path is the model when it is one and more follow."""
    from ..runtime.loading import is_model_spec

    paths = list(a.paths)
    if "model" in a:
        return a.model, paths
    if len(paths) > 1 and is_model_spec(paths[0]):
        return paths[0], paths[1:]
    return None, paths


def _cmd_predict(a):
    from ..serve.batch import predict_paths

    model, inputs = _split_model(a)
    options = given(a, drop=("paths", "model"))
    print(predict_paths(inputs, model=model, out=print, **options))  # a line per file as it is done


def _cmd_frames(a):
    from ..vision.frames import extract_frames

    n = extract_frames(**given(a))
    print(f"wrote {n} frames to {a.out_dir}")


def _cmd_export(a):
    from ..export.formats import export

    options = given(a, drop=("model", "out", "format"))
    report = export(getattr(a, "model", None), a.out, format=a.format, **options)
    print(report.details["command"] if getattr(a, "dry_run", False) else report)


def _cmd_download(a):
    from ..data.download import download

    path = download(**given(a))
    print(f"downloaded {a.url_or_id} to {path}")


def _register_train(sub):
    from ..training.evaluation import TTA_MODES, evaluate
    from ..data.labels import USAGES
    from ..training.models import BACKBONES, MODELS, WEIGHTS
    from ..data.split import BALANCE_METHODS
    from ..runtime.tfutil import PRECISIONS
    from ..training.trainer import CLASS_WEIGHTS, OPTIMIZERS, SCHEDULES, TrainConfig, train

    t = verb(sub, "train", help="train a CNN on a FER-2013 CSV into RUN_DIR (rerun to resume)", func=_cmd_train,
             example="fercsv train fer2013.csv --out run/ --epochs 40\n"
                     "fercsv train faces.csv --out run_vgg/ --backbone vgg16 --weights imagenet")
    t.add_argument("data", help="CSV: Training rows train, PublicTest validates, PrivateTest is reported")
    option(t, "--out", dest="out_dir", required=True, metavar="RUN_DIR", help="RUN_DIR (may be on Google Drive); rerun to resume")
    option(t, "--model", choices=tuple(MODELS), library=train, help="network to build")
    option(t, "--backbone", choices=tuple(BACKBONES), library=TrainConfig,
           help="keras.applications backbone")
    option(t, "--weights", type=_none_or_text, choices=WEIGHTS, library=TrainConfig,
           help="backbone weights (imagenet downloads)")
    option(t, "--epochs", type=positive_int, library=train, help="epochs to train")
    option(t, "--batch-size", type=positive_int, library=train,
           help="images per step (with TF_CONFIG: per step of all workers)")
    option(t, "--lr", type=float, library=train, help="peak learning rate")
    option(t, "--schedule", choices=SCHEDULES, library=TrainConfig, help="learning-rate schedule")
    option(t, "--warmup-epochs", type=int, library=TrainConfig, help="epochs of linear warm-up (cosine)")
    option(t, "--label-smoothing", type=fraction, library=TrainConfig, help="label smoothing of the loss")
    option(t, "--weight-decay", type=float, library=TrainConfig, help="decoupled weight decay")
    option(t, "--optimizer", choices=OPTIMIZERS, library=TrainConfig,
           help="adamw, or sgd (Nesterov momentum 0.9)")
    option(t, "--mixup", type=float, library=TrainConfig, help="mixup Beta alpha (0: off), e.g. 0.2")
    option(t, "--erasing", type=fraction, library=TrainConfig,
           help="probability of random erasing per image (0: off)")
    option(t, "--ema", type=fraction, library=TrainConfig,
           help="average of the weights per step (0: off), e.g. 0.999")
    option(t, "--no-augment", dest="augment", action="store_false", help="no flips/rotations/zoom in training")
    option(t, "--class-weight", choices=CLASS_WEIGHTS, library=TrainConfig, help="cost-sensitive loss")
    option(t, "--balance", choices=BALANCE_METHODS, library=TrainConfig, help="resample Training rows")
    option(t, "--patience", type=int, library=TrainConfig, help="early-stopping patience in epochs (0: off)")
    option(t, "--precision", choices=tuple(PRECISIONS), library=TrainConfig,
           help="auto: float16 on GPU, bfloat16 on TPU and on CPUs with AMX or AVX-512-BF16")
    option(t, "--time-limit", dest="time_limit_minutes", type=float, library=TrainConfig,
           help="stop before this many minutes have passed")
    option(t, "--tta", choices=tuple(TTA_MODES), library=TrainConfig,
           help="test-time augmentation of the test report")
    option(t, "--no-tta", dest="tta", action="store_const", const="none", help="same as --tta none")
    option(t, "--seed", type=int, library=TrainConfig, help="random seed")
    option(t, "--restart", action="store_true", help="discard RUN_DIR's state and start over")

    e = verb(sub, "evaluate", help="score a model on a CSV split (report.json, confusion.png)",
             func=_cmd_evaluate, example="fercsv evaluate run/ fer2013.csv --split PrivateTest --tta flip\n"
                                         "fercsv evaluate fer2013.csv   # the shipped pretrained model")
    e.add_argument("model", nargs="?", help="RUN_DIR, .keras, .onnx, .tflite or a pretrained name "
                                            "(default: the shipped fer2013 model)")
    e.add_argument("data", help="CSV with labels")
    option(e, "--split", choices=USAGES + ("all",), library=evaluate, help="rows to score")
    option(e, "--tta", nargs="?", const="flip", choices=tuple(TTA_MODES), library=evaluate,
           help="average over augmented views (flip when given without a value)")
    option(e, "--out", dest="out_dir", help="folder for report.json and confusion.png "
                                            "(default: RUN_DIR/evaluations/...)")
    option(e, "--json", dest="cli_json", action="store_true", help="print the report as JSON")


def _register_predict(sub):
    from ..serve.engines import ENGINES, RAY_BATCH_SIZE, predict_table
    from ..serve.timeline import AGGREGATIONS
    from ..serve.video import predict_video

    p = verb(sub, "predict", help="predict emotions on photos, folders, globs or videos",
             func=_cmd_predict,
             example="fercsv predict photo.jpg                # the shipped pretrained model\n"
                     "fercsv predict run/ photos/ 'more/*.jpg' clip.mp4 --out predictions/\n"
                     "fercsv predict model.onnx photos/ --out predictions/ --resume\n"
                     "fercsv predict photos/ clips/ --out faces.parquet            # one row per face\n"
                     "fercsv predict model.onnx photos/ --out faces.parquet --engine ray --workers 2\n"
                     "fercsv predict photos/ --out part2.parquet --shard 2/4      # then: fercsv concat")
    p.add_argument("paths", nargs="+", metavar="[MODEL] INPUT",
                   help="optional model (RUN_DIR, .keras, .onnx, .tflite, pretrained name), then images, "
                        "folders (recursive), globs and videos")
    option(p, "--model", help="the model, when not given as the first path (default: pretrained fer2013)")
    option(p, "--out", dest="out_dir",
           help="output folder (annotated copies, predictions.csv), or a face table FILE.parquet / FILE.csv "
                "(one row per face and frame) (default: predictions/, or predictions.parquet with --engine)")
    option(p, "--engine", choices=tuple(ENGINES), library=predict_table,
           help="where to predict into a face table: local (this process) or ray (Ray Data workers)")
    option(p, "--workers", type=positive_int,
           help="ray: worker processes (default: the CPUs of the local or running cluster)")
    option(p, "--address", help="ray: a running cluster to use, e.g. auto or ray://head:10001 "
                                "(default: start a local one)")
    option(p, "--batch-size", type=positive_int, help=f"ray: inputs per task (default: {RAY_BATCH_SIZE})")
    option(p, "--shard", metavar="K/N",
           help="only the K-th of N contiguous blocks of the inputs, into a face table "
                "(default: predictions-K-of-N.parquet; join with fercsv concat)")
    option(p, "--no-detect", dest="detect", action="store_false", help="inputs are already-cropped faces")
    option(p, "--equalize", action="store_true", help="equalize faces (if the model was trained so)")
    option(p, "--resume", action="store_true",
           help="skip inputs already done (in OUT/predictions.csv, or in the journal of an unfinished table)")
    option(p, "--aggregate", dest="aggregate_by", choices=tuple(AGGREGATIONS), library=predict_video,
           help="videos: one emotion per video")
    option(p, "--start", type=float, help="videos: begin at this time in seconds (default: the start)")
    option(p, "--end", type=float, help="videos: stop at this time in seconds (default: the end)")
    option(p, "--no-plot", dest="plot", action="store_false",
           help="videos: no emotion-over-time PNG (drawn when matplotlib is installed)")
    option(p, "--second-half", action="store_true", help="videos: aggregate only the later half")
    option(p, "--every", type=positive_int, library=predict_video, help="videos: use every N-th frame")

    f = verb(sub, "frames", help="extract the frames of a video as PNG files", func=_cmd_frames,
             example="fercsv frames clip.mp4 frames/ --every 5")
    f.add_argument("path", help="video file")
    f.add_argument("out_dir", help="folder for frame_000000.png ...")
    option(f, "--every", type=positive_int, help="keep every N-th frame (default: 1)")


def _register_export(sub):
    from ..export.formats import QUANTIZATIONS, export_om, export_onnx

    x = verb(sub, "export", help="export a model: onnx, om (Ascend), tflite", func=_cmd_export,
             example="fercsv export onnx run/ model.onnx\nfercsv export om model_nchw.onnx model --dry-run")
    xs = x.add_subparsers(dest="format", required=True, metavar="FORMAT")
    model_help = "RUN_DIR, .keras or a pretrained name (default: the shipped fer2013 model)"
    o = verb(xs, "onnx", help="ONNX via tf2onnx, verified with onnxruntime", func=_cmd_export,
             example="fercsv export onnx run/ model.onnx --nchw --data faces.csv")
    o.add_argument("model", nargs="?", help=model_help)
    o.add_argument("out", help="output .onnx")
    option(o, "--opset", type=int, library=export_onnx, help="ONNX opset")
    option(o, "--nchw", action="store_true", help="input N,1,H,W (for Ascend atc)")
    option(o, "--no-verify", dest="verify", action="store_false", help="skip the onnxruntime check")
    option(o, "--data", help="CSV whose images verify the export (default: random images)")
    m = verb(xs, "om", help="Ascend OM via atc from an NCHW ONNX model", func=_cmd_export,
             example="fercsv export om model_nchw.onnx model --soc-version Ascend310P3")
    m.add_argument("model", nargs="?", help="NCHW .onnx (fercsv export onnx ... --nchw) or a pretrained name")
    m.add_argument("out", help="output prefix (atc adds .om)")
    option(m, "--soc-version", library=export_om, help="Ascend chip")
    g = m.add_mutually_exclusive_group()
    option(g, "--batch", type=positive_int, library=export_om, help="fixed batch size")
    option(g, "--dynamic-batch", help="batch gears, e.g. 1,2,4,8")
    option(m, "--dry-run", action="store_true", help="print the atc command and exit")
    t = verb(xs, "tflite", help="TFLite, verified with the TFLite interpreter", func=_cmd_export,
             example="fercsv export tflite run/ model.tflite --quantize int8 --data faces.csv")
    t.add_argument("model", nargs="?", help="RUN_DIR or .keras")
    t.add_argument("out", help="output .tflite")
    option(t, "--quantize", choices=QUANTIZATIONS, help="post-training quantisation (default: none)")
    option(t, "--data", help="CSV for int8 calibration and the accuracy check")


def _register_download(sub):
    d = verb(sub, "download", help="download a Google Drive file/folder or URL (gdown), cached and verified",
             func=_cmd_download, example="fercsv download https://drive.google.com/file/d/ID/view fer2013.csv")
    d.add_argument("url_or_id", metavar="source", help="Drive share link, Drive file ID, or http(s) URL")
    d.add_argument("dest", nargs="?", help="file or folder (default: the fercsv cache)")
    option(d, "--md5", help="expected MD5 checksum")
    option(d, "--sha256", help="expected SHA-256 checksum")
    option(d, "--folder", action="store_true", help="the link is a Drive folder")
    option(d, "--force", action="store_true", help="download again even if cached")
    option(d, "--quiet", action="store_true", help="no progress bar")


#: ``register(subparsers)`` functions, in help order; other modules may append theirs.
REGISTER = [_register_train, _register_predict, _register_export, _register_download]

#: Kept for code that read the TTA choices from here; the table is ``evaluation.TTA_MODES``.
from ..training.evaluation import TTA_MODES as _TTA  # noqa: E402

TTA_CHOICES = tuple(_TTA)
