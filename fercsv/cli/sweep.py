"""CLI verbs past one machine: ``fercsv sweep`` (hyper-parameter grids on Ray Tune).

``fercsv.cli`` imports this module only when one of its verbs (or the full help) is asked
for; Ray is imported inside the library functions. To add verbs, append a
``register(subparsers)`` function to :data:`REGISTER`.
"""
from .main import emit, given, option, positive_int, verb


def _cmd_sweep(a):
    import sys

    from ..training.sweeps import sweep

    # With --json, stdout holds only the JSON; progress lines go to stderr.
    say = (lambda line: print(line, file=sys.stderr)) if getattr(a, "cli_json", False) else print
    emit(sweep(**given(a), out=say), a)


def _register_sweep(sub):
    from ..training.sweeps import SETTINGS, sweep

    s = verb(sub, "sweep", help="train a grid of settings on Ray Tune, one resumable RUN_DIR per trial",
             func=_cmd_sweep,
             example="fercsv sweep fer2013.csv --grid batch_size=32,64,128 epochs=20,40 --out sweep/\n"
                     "fercsv sweep fer2013.csv --grid lr=3e-4,1e-3 --param epochs=30 --out sweep_lr/\n"
                     "fercsv sweep fer2013.csv --grid batch_size=64,128 --out /nfs/sweep --address auto")
    s.add_argument("data", help="CSV (or image folder): Training trains, PublicTest picks the best trial, "
                                "PrivateTest scores that one trial at the end")
    option(s, "--grid", nargs="+", required=True, metavar="KEY=V1,V2",
           help=f"settings to sweep, every combination is a trial; keys: {', '.join(SETTINGS)}")
    option(s, "--param", dest="params", nargs="+", metavar="KEY=VALUE", help="settings fixed for every trial")
    option(s, "--out", dest="out_dir", required=True, metavar="SWEEP",
           help="folder for the trials and results; rerun the same command to resume")
    option(s, "--address", help="a running Ray cluster (auto, HOST:6379 or ray://HOST:10001); "
                                "default: a local Ray on this machine's cores")
    option(s, "--num-cpus", type=positive_int, help="cores of the local Ray (default: all)")
    option(s, "--cpus-per-trial", type=float, library=sweep, help="cores each trial holds")
    option(s, "--gpus-per-trial", type=float, library=sweep, help="GPUs each trial holds")
    option(s, "--max-concurrent", type=positive_int,
           help="trials at a time (default: cores / cpus-per-trial)")
    option(s, "--retries", type=int, library=sweep, help="times a trial whose worker died is tried again")
    option(s, "--restart", action="store_true", help="discard SWEEP's trials and results and start over")
    option(s, "--json", dest="cli_json", action="store_true", help="print the result as JSON")


#: ``register(subparsers)`` functions, in help order; other modules may append theirs.
REGISTER = [_register_sweep]


def register(sub):
    """Add this module's verbs to the CLI's sub-commands."""
    for add in REGISTER:
        add(sub)
