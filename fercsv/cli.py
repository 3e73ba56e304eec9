"""The ``fercsv`` command: a thin argparse layer over the Python API.

Each verb parses its options, calls one API function and prints its report.
Known errors print ``fercsv: error: ...`` and exit 1, with no traceback.
"""
import argparse
import json
import sys

from .errors import FercsvError

_HELP = argparse.ArgumentDefaultsHelpFormatter


def _shape(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
        return h, w
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like 48x48, not {text!r}") from None


def _fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1)")
    return value


def _cmd_convert(a):
    from .convert import convert

    report = convert(a.src, a.dst, size=a.size, equalize=a.equalize, shuffle=a.shuffle, seed=a.seed,
                     workers=a.workers, strict=a.strict, progress=not a.quiet,
                     overwrite=a.overwrite, on_bad_rows="skip" if a.skip_bad_rows else "raise",
                     label_format=a.label_format, **_face_options(a))
    print(json.dumps(report.to_dict(), indent=1) if a.json else report)


def _face_options(a):
    if not getattr(a, "faces", False):
        return {}
    from .faces import face_preprocessor

    return {"preprocess": face_preprocessor(size=a.size, equalize=a.equalize, keep_no_face=a.no_face == "keep")}


def _cmd_info(a):
    from .info import info

    report = info(a.path, workers=a.workers)
    print(json.dumps(report.to_dict(), indent=1) if a.json else report)


def _cmd_split(a):
    from .split import split_csv

    ds = split_csv(a.src, a.dst, val=a.val, test=a.test, seed=a.seed,
                   stratify=not a.no_stratify, group_column=a.group_column)
    counts = {u: int((ds.usage == u).sum()) for u in ("Training", "PublicTest", "PrivateTest")}
    print(f"wrote {len(ds)} rows to {a.dst}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _cmd_balance(a):
    from .split import balance_csv

    ds = balance_csv(a.src, a.dst, method="oversample" if a.oversample else "undersample", seed=a.seed)
    train = ds.subset("Training")
    per = {ds.name_of(c): int((train.labels == c).sum()) for c in sorted(set(train.labels))}
    print(f"wrote {len(ds)} rows to {a.dst}; Training per label: " +
          ", ".join(f"{k} {v}" for k, v in per.items()))


def _cmd_synth(a):
    from .synth import synth

    written = synth(a.outdir, per_class=a.per_class, seed=a.seed, size=a.size)
    print(f"wrote {sum(written.values())} synthetic faces to {a.outdir} (" +
          ", ".join(f"{k} {v}" for k, v in written.items()) + ")")


def _cmd_demo(a):
    from .demo import demo

    demo(a.workdir, per_class=a.per_class, seed=a.seed, epochs=a.epochs, core_only=a.core_only)


def build_parser():
    """The argparse parser of every verb (also used to document the CLI)."""
    from . import __version__

    p = argparse.ArgumentParser(prog="fercsv", formatter_class=_HELP,
                                description="Facial-expression data kit: FER-2013 CSVs, training, "
                                            "prediction and export.")
    p.add_argument("--version", action="version", version=f"fercsv {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    c = sub.add_parser("convert", formatter_class=_HELP,
                       help="image folder -> FER-2013 CSV, or CSV -> image folder")
    c.add_argument("src", help="image folder (<label>/ or <split>/<label>/) or CSV (.csv, .csv.gz)")
    c.add_argument("dst", help="CSV to write (.gz to compress) or folder to fill")
    c.add_argument("--size", type=int, default=48, help="output side length in pixels")
    c.add_argument("--equalize", action="store_true", help="histogram-equalize each face")
    c.add_argument("--shuffle", action="store_true", help="shuffle rows (default: split, label, name)")
    c.add_argument("--seed", type=int, default=0, help="seed for --shuffle")
    c.add_argument("--workers", type=int, default=None, help="decoding threads (default: all cores)")
    c.add_argument("--strict", action="store_true", help="fail on the first bad image, write nothing")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--overwrite", action="store_true", help="allow a non-empty destination folder")
    c.add_argument("--skip-bad-rows", action="store_true", help="skip malformed CSV rows and report them")
    c.add_argument("--label-format", choices=("auto", "code", "name"), default="auto",
                   help="emotion column as FER-2013 codes or names (auto: codes when all are known)")
    c.add_argument("--faces", action="store_true", help="crop the largest face of each photo first")
    c.add_argument("--no-face", choices=("skip", "keep"), default="skip",
                   help="with --faces: skip photos without a face, or keep them whole")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=_cmd_convert)

    i = sub.add_parser("info", formatter_class=_HELP,
                       help="counts, blank images and duplicates of a CSV or folder")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.add_argument("--workers", type=int, default=None)
    i.set_defaults(func=_cmd_info)

    s = sub.add_parser("split", formatter_class=_HELP, help="assign Usage: train / val / test")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--val", type=_fraction, default=0.1, help="fraction for PublicTest (validation)")
    s.add_argument("--test", type=_fraction, default=0.1, help="fraction for PrivateTest (test)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-stratify", action="store_true", help="plain random split")
    s.add_argument("--group-column", default=None,
                   help="keep rows sharing this column's value (e.g. subject) in one split")
    s.set_defaults(func=_cmd_split)

    b = sub.add_parser("balance", formatter_class=_HELP, help="equalise class counts of Training rows")
    b.add_argument("src")
    b.add_argument("dst")
    how = b.add_mutually_exclusive_group(required=True)
    how.add_argument("--undersample", action="store_true")
    how.add_argument("--oversample", action="store_true")
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=_cmd_balance)

    y = sub.add_parser("synth", formatter_class=_HELP, help="write a synthetic facial-expression folder")
    y.add_argument("outdir")
    y.add_argument("--per-class", type=int, default=100, help="training images per class")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--size", type=int, default=48)
    y.set_defaults(func=_cmd_synth)

    d = sub.add_parser("demo", formatter_class=_HELP, help="run the whole pipeline on synthetic data")
    d.add_argument("--workdir", default=None, help="where to write (default: a new temp folder)")
    d.add_argument("--per-class", type=int, default=150, help="synthetic training images per class")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's own)")
    d.add_argument("--core-only", action="store_true",
                   help="only the data steps (no training, prediction or export)")
    d.set_defaults(func=_cmd_demo)

    for register in _upper_floor_parsers():
        register(sub)
    return p


def _upper_floor_parsers():
    from . import cli_upper

    return cli_upper.REGISTER


def main(argv=None):
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except FercsvError as exc:
        print(f"fercsv: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fercsv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    return 0
