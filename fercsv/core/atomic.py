"""Atomic file writes: a file appears under its final name complete, or not at all.

Data is written to a hidden temporary file in the destination folder and renamed
over the final name only when writing finished without error.
"""
import contextlib
import gzip
import os
import tempfile
from pathlib import Path


#: Suffix of files being written; a file with it is never a finished result.
PART_SUFFIX = ".part"


def part_path(path):
    """The hidden in-progress name of ``path`` (``dir/.name.part``) for writers that resume.

    >>> part_path("out/fer2013.csv").as_posix()
    'out/.fer2013.csv.part'
    """
    path = Path(path)
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hi")
    >>> (d / "a.txt").read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give the usual umask-based mode
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path, *, compress=None):
    """Open ``path`` for binary writing atomically; gzip when it ends in ``.gz``.

    The gzip header carries no time stamp or name, so equal data gives equal bytes.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix.lower() == ".gz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                   compresslevel=6) as gz:
                    yield gz
            else:
                yield raw


def write_json(path, data):
    """Write ``data`` as indented JSON to ``path`` atomically (values JSON lacks become strings).

    >>> import tempfile, os, json
    >>> f = os.path.join(tempfile.mkdtemp(), "state.json")
    >>> write_json(f, {"epochs_done": 3}); json.load(open(f))
    {'epochs_done': 3}
    """
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=str))
