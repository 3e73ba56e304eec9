"""Shared helpers for the benchmarks: locate FER-2013, time things, print figures."""
import os
import resource
import tarfile
import time
from pathlib import Path


def fer_folder(option=None):
    """Extracted FER-2013 image folder from --data or $FERCSV_DATA, or None.

    Accepts the folder itself, its parent, or the ``fer2013-images.tar.gz``
    archive (extracted once under /tmp, never inside the project).
    """
    candidates = [option, os.environ.get("FERCSV_DATA"),
                  Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013-images.tar.gz"]
    for c in candidates:
        if not c:
            continue
        p = Path(c)
        if p.is_file() and p.name.endswith(".tar.gz"):
            target = Path("/tmp/fercsv-bench")
            if not (target / "fer2013").is_dir():
                target.mkdir(parents=True, exist_ok=True)
                with tarfile.open(p) as tar:
                    tar.extractall(target, filter="data")
            p = target
        if (p / "fer2013").is_dir():
            p = p / "fer2013"
        if (p / "train").is_dir():
            return p
    return None


def best_of(func, repeat=3):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t)
    return best, result


def cpu_seconds():
    """CPU time used so far by this process and its finished children (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def interleaved(ways, repeat=3, *, before=None):
    """Time several ways of doing one job in alternating rounds (a, b, a, b, ...).

    On a shared machine the load changes from one second to the next; alternating the ways
    and keeping each one's best round compares them under the same conditions.
    ``ways`` maps a name to ``(func, rounds)`` (a slow naive way may run fewer rounds);
    ``before(name)`` runs untimed before each round (e.g. to delete the last output).
    Returns ``{name: (best wall seconds, CPU seconds of that round, last result)}``.
    """
    best = {}
    for r in range(repeat):
        for name, (func, rounds) in ways.items():
            if r >= rounds:
                continue
            if before:
                before(name)
            cpu, t = cpu_seconds(), time.perf_counter()
            result = func()
            wall, cpu = time.perf_counter() - t, cpu_seconds() - cpu
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu, result)
            else:
                best[name] = (*best[name][:2], result)
    return best


def figure(name, value, unit, ratio=None, note="", versus="naive"):
    """Print one benchmark line: name, value, unit, ratio to the naive way (or ``versus``)."""
    r = f"  ratio {ratio:.1f}x vs {versus}" if ratio is not None else ""
    print(f"{name:<34} {value:>12,.1f} {unit:<10}{r}{('  ' + note) if note else ''}", flush=True)
