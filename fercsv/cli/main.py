"""The ``fercsv`` command: a thin argparse layer over the Python API.

Each verb parses its options, calls one API function with only the options the user
gave (so the library's defaults are the only defaults; ``--help`` reads them from the
function) and prints its report. Known errors print ``fercsv: error: ...`` and exit 1.
The ground-floor verbs live here; modules listed in :data:`VERB_MODULES` add the
others, and are imported only when their verbs are asked for.
"""
import argparse
import dataclasses
import inspect
import json
import shutil
import sys

from ..core.errors import FercsvError, first_line

#: Modules whose ``REGISTER`` list (or single ``register``) holds ``register(subparsers)``
#: functions for more verbs, in help order. A listed module that does not exist is skipped,
#: so ``fercsv.cli.app`` only has to define ``register`` for its verbs to appear.
VERB_MODULES = ["fercsv.cli.upper", "fercsv.cli.app", "fercsv.cli.sweep"]

#: Verbs defined in this module (their modules need no TensorFlow).
CORE_VERBS = ("convert", "concat", "info", "split", "balance", "synth", "demo")

#: Environment variable that shows TensorFlow's start-up logs again (read by ``tfutil``).
TF_LOGS_ENV = "FERCSV_TF_LOGS"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with one line per argument where the terminal allows, and examples kept as written."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=max(100, shutil.get_terminal_size().columns))


def default_of(target, name):
    """The default of parameter ``name`` of a function or dataclass ``target`` (``inspect._empty`` if none)."""
    if dataclasses.is_dataclass(target):
        for f in dataclasses.fields(target):
            if f.name == name:
                return f.default
        return inspect.Parameter.empty
    param = inspect.signature(target).parameters.get(name)
    return param.default if param is not None else inspect.Parameter.empty


def verb(sub, name, *, help, example, func):
    """A sub-command whose options default to "not given", so the library decides."""
    p = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                       formatter_class=HelpFormatter, argument_default=argparse.SUPPRESS,
                       epilog="example:\n  " + "\n  ".join(example.strip().splitlines()))
    p.set_defaults(func=func)
    return p


def option(p, *flags, help, library=None, param=None, **kw):
    """Add an argument; ``library`` (a function or dataclass) supplies the default shown in --help."""
    dest = param or kw.get("dest") or flags[-1].lstrip("-").replace("-", "_")
    if kw.get("choices") is not None and "metavar" not in kw and flags[0].startswith("-"):
        # Choices in the text, a short metavar: one line per option in --help.
        kw["metavar"] = flags[-1].lstrip("-").split("-")[-1].upper()
        help += " [" + "|".join("none" if c is None else str(c) for c in kw["choices"]) + "]"
    if "metavar" not in kw and kw.get("type") in (int, positive_int, float, fraction):
        kw["metavar"] = "N" if kw["type"] in (int, positive_int) else "X"
    if flags[0].startswith("-") and "default:" not in help:  # every option says what leaving it out means
        help += f" ({_default_text(library, dest, kw)})"
    p.add_argument(*flags, help=help, **kw)


def _default_text(library, dest, kw):
    """``default: X`` from the library function (the only source of defaults), or what leaving it out means."""
    if kw.get("required"):
        return "required"
    if kw.get("action") in ("store_true", "store_false", "store_const"):
        return "default: off"
    default = default_of(library, dest) if library is not None else inspect.Parameter.empty
    if default is inspect.Parameter.empty:
        default = kw.get("default")
    return f"default: {'none' if default is None else default}"


def given(a, *, drop=()):
    """The options the user gave, as keyword arguments (CLI-only ones start with ``cli_``)."""
    return {k: v for k, v in vars(a).items()
            if k not in ("func", "verb", *drop) and not k.startswith("cli_")}


def emit(report, a):
    """Print a report, as JSON when ``--json`` was given."""
    print(json.dumps(report.to_dict(), indent=1, default=str) if getattr(a, "cli_json", False) else report)


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}")
    return value


def fraction(text):
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1)")
    return value


def _cmd_convert(a):
    from ..data.convert import convert

    options = given(a, drop=("faces", "no_face"))
    if getattr(a, "faces", False):
        from ..vision.faces import face_preprocessor

        options["preprocess"] = face_preprocessor(size=a.size if "size" in a else 48,
                                                  equalize=getattr(a, "equalize", False),
                                                  keep_no_face=getattr(a, "no_face", "skip") == "keep")
    if "ferplus" not in options:  # a progress bar unless --quiet (the FER+ rewrite is one quick pass)
        options.setdefault("progress", True)
    emit(convert(**options), a)


def _cmd_concat(a):
    from ..data.concat import concat

    emit(concat(**given(a)), a)


def _cmd_info(a):
    from ..data.info import info

    emit(info(**given(a)), a)


def _cmd_split(a):
    from ..data.split import split_csv, usage_summary

    ds = split_csv(**given(a))
    print(f"wrote {a.dst}: {usage_summary(ds)}")


def _cmd_balance(a):
    from ..data.split import balance_csv, usage_summary

    ds = balance_csv(**given(a))
    print(f"wrote {a.dst}: {usage_summary(ds, per_label=True)}")


def _cmd_synth(a):
    from ..data.synth import synth

    written = synth(**given(a))
    print(f"wrote {sum(written.values())} synthetic faces to {a.outdir} (" +
          ", ".join(f"{k} {v}" for k, v in written.items()) + ")")


def _cmd_demo(a):
    from .demo import demo

    demo(**given(a))


def _register_core(sub):
    from ..data.convert import folder_to_csv
    from .demo import demo
    from ..data.ferplus import FERPLUS_MODES, ferplus_csv
    from ..data.info import info
    from ..data.split import BALANCE_METHODS, EXISTING_SPLITS, balance_csv, split_csv
    from ..data.synth import synth

    c = verb(sub, "convert", help="image folder -> FER-2013 CSV, or CSV -> image folder", func=_cmd_convert,
             example="fercsv convert faces/ faces.csv.gz\nfercsv convert faces.csv.gz faces/\n"
                     "fercsv convert fer2013.csv ferplus.csv --ferplus fer2013new.csv --ferplus-mode majority\n"
                     "fercsv convert faces/ parts/faces-2.csv --shard 2/4   # then: fercsv concat")
    c.add_argument("src", help="image folder (<label>/ or <split>/<label>/) or CSV (.csv, .csv.gz)")
    c.add_argument("dst", help="CSV to write (.gz to compress) or folder to fill")
    option(c, "--size", type=positive_int, library=folder_to_csv, help="folder -> CSV: side length in pixels")
    option(c, "--equalize", action="store_true", help="folder -> CSV: histogram-equalize each face")
    option(c, "--shuffle", action="store_true", help="folder -> CSV: shuffle rows (else split, label, name)")
    option(c, "--seed", type=int, library=folder_to_csv, help="folder -> CSV: seed for --shuffle")
    option(c, "--workers", type=positive_int, help="decoding workers (default: all cores)")
    option(c, "--strict", action="store_true", help="folder -> CSV: fail on the first bad image, write nothing")
    option(c, "--quiet", dest="progress", action="store_false", help="no progress bar")
    option(c, "--overwrite", action="store_true", help="CSV -> folder: allow a non-empty destination folder")
    option(c, "--skip-bad-rows", dest="on_bad_rows", action="store_const", const="skip",
           help="CSV -> folder: skip malformed CSV rows and report them")
    option(c, "--label-format", choices=("auto", "code", "name"), library=folder_to_csv,
           help="CSV emotion column as codes or names (auto: codes if known)")
    option(c, "--faces", action="store_true", help="folder -> CSV: crop the largest face of each photo")
    option(c, "--no-face", choices=("skip", "keep"), help="with --faces: photos without a face (default: skip)")
    option(c, "--ferplus", metavar="VOTES_CSV", help="FER-2013 CSV -> FER+ CSV with Microsoft's fer2013new.csv")
    option(c, "--ferplus-mode", choices=tuple(FERPLUS_MODES), library=ferplus_csv, param="mode",
           help="with --ferplus: majority label only, or with vote fractions")
    option(c, "--shard", metavar="K/N", help="do only the K-th of N equal parts (K from 1), e.g. in a job "
           "array; join the parts' outputs with fercsv concat")
    option(c, "--json", dest="cli_json", action="store_true", help="print the report as JSON")

    j = verb(sub, "concat", help="join shard outputs (CSV or Parquet) into one file, in the order given",
             func=_cmd_concat, example="fercsv concat 'parts/faces-*.csv' faces.csv\n"
                                       "fercsv concat part-1.parquet part-2.parquet predictions.parquet")
    j.add_argument("sources", metavar="SHARD", nargs="+",
                   help="shard outputs in order; a quoted glob ('part-*.csv') sorts part-2 before part-10")
    j.add_argument("dst", metavar="OUT", help="file to write, last as in convert (.gz to compress, .parquet for "
                                              "Parquet)")
    option(j, "--json", dest="cli_json", action="store_true", help="print the report as JSON")

    i = verb(sub, "info", help="counts, blank images and duplicates of a CSV or folder", func=_cmd_info,
             example="fercsv info fer2013.csv")
    i.add_argument("path", help="CSV (.csv, .csv.gz) or image folder")
    option(i, "--json", dest="cli_json", action="store_true", help="machine-readable output")
    option(i, "--workers", type=positive_int, help="decoding workers (default: all cores)")

    s = verb(sub, "split", help="assign Usage: Training / PublicTest (validation) / PrivateTest (test)",
             func=_cmd_split, example="fercsv split faces.csv faces_split.csv --val 0.1 --test 0.1 --seed 0")
    s.add_argument("src", help="CSV to read")
    s.add_argument("dst", help="CSV to write")
    option(s, "--val", type=fraction, library=split_csv, help="fraction for PublicTest (validation)")
    option(s, "--test", type=fraction, library=split_csv, help="fraction for PrivateTest (test)")
    option(s, "--seed", type=int, library=split_csv, help="random seed")
    option(s, "--no-stratify", dest="stratify", action="store_false", help="plain random split, not per label")
    option(s, "--group-column", library=split_csv,
           help="keep rows sharing this column's value (e.g. subject) in one split")
    option(s, "--existing", choices=EXISTING_SPLITS, library=split_csv,
           help="rows already PublicTest/PrivateTest: keep them (split only Training rows) or replace all")

    b = verb(sub, "balance", help="equalise class counts of the Training rows", func=_cmd_balance,
             example="fercsv balance faces.csv faces_balanced.csv --method oversample")
    b.add_argument("src", help="CSV to read")
    b.add_argument("dst", help="CSV to write")
    how = b.add_mutually_exclusive_group()
    option(how, "--method", choices=BALANCE_METHODS, library=balance_csv,
           help="drop rows of large classes or repeat small ones")
    for m in BALANCE_METHODS:
        option(how, f"--{m}", dest="method", action="store_const", const=m, help=f"same as --method {m}")
    option(b, "--seed", type=int, library=balance_csv, help="random seed")

    y = verb(sub, "synth", help="write a synthetic facial-expression folder", func=_cmd_synth,
             example="fercsv synth faces/ --per-class 100")
    y.add_argument("outdir", help="folder to fill with <split>/<label>/*.png")
    option(y, "--per-class", type=positive_int, library=synth, help="training images per class")
    option(y, "--seed", type=int, library=synth, help="random seed")
    option(y, "--size", type=positive_int, library=synth, help="side length in pixels")

    d = verb(sub, "demo", help="run the whole pipeline on synthetic data", func=_cmd_demo,
             example="fercsv demo --workdir demo/")
    option(d, "--workdir", help="where to write (default: a new temp folder)")
    option(d, "--per-class", type=positive_int, library=demo, help="synthetic training images per class")
    option(d, "--seed", type=int, library=demo, help="random seed")
    option(d, "--epochs", type=positive_int, library=demo, help="training epochs")
    option(d, "--core-only", action="store_true", help="only the data steps (no training, prediction, export)")


def _verb_of(argv):
    return next((t for t in argv if not t.startswith("-")), None)


def build_parser(argv=None):
    """The argparse parser (also documents the CLI); other verbs' modules load only when needed."""
    from ..core.version import __version__

    p = argparse.ArgumentParser(prog="fercsv", formatter_class=HelpFormatter,
                                description="Facial-expression data kit: FER-2013 CSVs, training, "
                                            "prediction and export.",
                                epilog="example:\n  fercsv demo\n  fercsv convert faces/ faces.csv\n"
                                       "  fercsv train faces.csv --out run/\n"
                                       "  fercsv predict run/ photo.jpg\n"
                                       f"environment: {TF_LOGS_ENV}=1 shows TensorFlow's start-up logs")
    p.add_argument("--version", action="version", version=f"fercsv {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    _register_core(sub)
    if argv is None or _verb_of(argv) not in CORE_VERBS:
        from importlib import import_module
        from importlib.util import find_spec

        done = set()
        for name in VERB_MODULES:
            if find_spec(name) is None:
                continue
            module = import_module(name)
            for register in getattr(module, "REGISTER", None) or [module.register]:
                if register not in done:  # a registrar listed in two places adds its verbs once
                    done.add(register)
                    register(sub)
    return p


def main(argv=None):
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage error, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except FercsvError as exc:
        text = str(exc).strip() or type(exc).__name__
        print(f"fercsv: error: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fercsv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except MemoryError as exc:
        print(f"fercsv: error: out of memory ({first_line(exc)}); use a smaller --batch-size or "
              "fewer --workers", file=sys.stderr)
        return 1
    return 0
