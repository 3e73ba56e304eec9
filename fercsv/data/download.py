"""Download shared data (Google Drive links and IDs, plain URLs, Kaggle datasets), cached and verified.

A download lands under a temporary name and is renamed only after its
checksum matched, so a failed or interrupted transfer leaves nothing behind.
"""
import hashlib
import inspect
import os
import re
from pathlib import Path

from .cache import cache_dir
from ..core.errors import BadInputError, DownloadError, require

_DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")


def is_url(text):
    """True for http(s) URLs (Drive share links included)."""
    return isinstance(text, str) and text.startswith(("http://", "https://"))


def _digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path, md5, sha256):
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected:
            actual = _digest(path, algorithm)
            if actual != expected.lower():
                return f"{algorithm} {actual} does not match the expected {expected}"
    return None


def download(url_or_id, dest=None, *, md5=None, sha256=None, quiet=False, folder=False, force=False):
    """Download a file (or a Drive folder with ``folder=True``) to ``dest``; return its path.

    ``url_or_id``: a Google Drive share link or file ID, any http(s) URL, or
    ``kaggle:OWNER/DATASET`` (the dataset's zip, see :mod:`fercsv.data.kaggle`).
    An existing ``dest`` is reused (cache) unless ``force``; with a checksum it
    must match, else it is fetched again. A download that does not match its
    checksum is deleted and reported. ``dest`` may be a folder. A Drive file goes the same way:
    ``fercsv.download("https://drive.google.com/file/d/<id>/view", "fer2013.csv", md5=...)``.

    Here a file is served from this machine (no network), fetched with its checksum, then
    fetched with a wrong one:

    >>> import fercsv, functools, hashlib, http.server, os, tempfile, threading
    >>> d = tempfile.mkdtemp()
    >>> _ = open(f"{d}/faces.csv", "w").write("emotion,pixels,Usage\\n3,0 1 2 3,Training\\n")
    >>> class Files(http.server.SimpleHTTPRequestHandler):
    ...     def log_message(self, *args): pass                              # no request log on stderr
    >>> server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Files, directory=d))
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()
    >>> url = f"http://127.0.0.1:{server.server_port}/faces.csv"
    >>> md5 = hashlib.md5(open(f"{d}/faces.csv", "rb").read()).hexdigest()
    >>> path = fercsv.download(url, f"{d}/copy.csv", md5=md5, quiet=True)
    >>> path.name, path.read_text() == open(f"{d}/faces.csv").read()
    ('copy.csv', True)
    >>> fercsv.download(url, f"{d}/copy.csv", md5=md5).name                  # doctest: +ELLIPSIS
    using cached /.../copy.csv (checksum ok)
    'copy.csv'
    >>> fercsv.download(url, f"{d}/other.csv", md5="0" * 32, quiet=True)       # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.DownloadError: download of http://...: md5 ... does not match the expected 000...; the file was deleted...
    >>> sorted(os.listdir(d))                                                 # other.csv was not kept
    ['copy.csv', 'faces.csv']
    >>> server.shutdown(); server.server_close()
    """
    text = str(url_or_id).strip()
    if text.startswith("kaggle:"):
        from .kaggle import download_dataset

        path = download_dataset(text, dest, force=force, quiet=quiet)
        problem = _check(path, md5, sha256)
        if problem:
            path.unlink()
            raise DownloadError(f"download of {text}: {problem}; the file was deleted. The dataset may have "
                                "a new version: retry or update the checksum")
        return path
    gdown = require("gdown", extra="colab", feature="downloads from Google Drive")
    if not text:
        raise BadInputError("nothing to download: give a URL or a Google Drive file ID")
    drive_id = text if (not is_url(text) and _DRIVE_ID.match(text)) else None
    if not drive_id and not is_url(text):
        raise BadInputError(f"{text!r} is neither a URL nor a Google Drive file ID")
    if folder:
        out = Path(dest or cache_dir())
        try:
            files = gdown.download_folder(url=None if drive_id else text, id=drive_id, output=str(out),
                                          quiet=quiet)
        except Exception as exc:
            raise DownloadError(f"could not download the folder {text} ({exc}); check that its sharing "
                                "is 'Anyone with the link'") from None
        if not files:
            raise DownloadError(f"could not download the folder {text}; check that its sharing is "
                                "'Anyone with the link'")
        return out
    if dest is None:
        name = drive_id or Path(text.split("?")[0].rstrip("/")).name or "download"
        dest = cache_dir() / name
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / (Path(text.split("?")[0]).name if not drive_id else drive_id)
    if dest.is_file() and not force:
        if not (md5 or sha256):
            if not quiet:
                print(f"using cached {dest} (force=True downloads again)")
            return dest
        if _check(dest, md5, sha256) is None:
            if not quiet:
                print(f"using cached {dest} (checksum ok)")
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        options = {"fuzzy": True} if "fuzzy" in inspect.signature(gdown.download).parameters else {}
        # gdown writes into our open file, so no stray temporary file of its own survives a failure.
        with open(tmp, "wb") as fh:
            got = gdown.download(url=None if drive_id else text, id=drive_id, output=fh, quiet=quiet,
                                 **options)
    except Exception as exc:  # requests/urllib3/gdown errors all mean "download failed"
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"download of {text} failed ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else 'no details'}); "
                            "check the link (Drive files need sharing 'Anyone with the link') and retry") from None
    if got is None or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"download of {text} failed; check the link (Drive files need sharing "
                            "'Anyone with the link') and retry")
    problem = _check(tmp, md5, sha256)
    if problem:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"download of {text}: {problem}; the file was deleted. The source may have "
                            "changed or the transfer was damaged: retry or update the checksum")
    os.replace(tmp, dest)
    return dest
