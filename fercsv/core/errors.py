"""Error types: every failure fercsv knows about is a FercsvError.

Messages name the file, row or value at fault and say what to do about it.
"""


class FercsvError(Exception):
    """Base class for errors that the CLI reports as one line, exit code 1.

    Catch it to handle every failure fercsv knows about; the message says what to do:

    >>> import fercsv
    >>> try:
    ...     fercsv.read_csv("no/such/faces.csv")
    ... except fercsv.FercsvError as exc:
    ...     print(f"fercsv: error: {exc}")
    fercsv: error: no/such/faces.csv: no such file; check the path
    """


class BadInputError(FercsvError, ValueError):
    """A file, row, value or option is malformed or refers to nothing.

    Arguments are checked before anything is read or written, so nothing is left behind:

    >>> import fercsv
    >>> fercsv.split(fercsv.synth_dataset(per_class=2), val=0.6, test=0.5)
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: split: val=0.6 and test=0.5 must sum below 1 so rows are left to train on
    >>> issubclass(fercsv.BadInputError, ValueError)
    True
    """


class BadRowError(BadInputError):
    """A CSV row is malformed; ``line`` is its 1-based line number in the file.

    >>> import fercsv, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "faces.csv")
    >>> rows = ["emotion,pixels,Usage", "3,0 1 2 3,Training", "4,0 1 2,Training", "3,9 9 9 9,Training"]
    >>> _ = open(path, "w").write("\\n".join(rows) + "\\n")
    >>> try:
    ...     fercsv.read_csv(path)
    ... except fercsv.BadRowError as exc:
    ...     print(exc.line, "|", exc)                                         # doctest: +ELLIPSIS
    3 | /...faces.csv: line 3: has 3 pixel values, expected 4; fix or remove the row, or skip bad rows ...
    >>> len(fercsv.read_csv(path, on_bad_rows="skip"))
    2
    """

    def __init__(self, message, *, path=None, line=None):
        super().__init__(message)
        self.path = path
        self.line = line


class BadImageError(BadInputError):
    """An image file is empty, corrupt or cannot be decoded; ``path`` and ``reason`` say which and why.

    >>> import fercsv, os, tempfile
    >>> photo = os.path.join(tempfile.mkdtemp(), "photo.jpg")
    >>> _ = open(photo, "wb").write(b"not a JPEG")
    >>> try:
    ...     fercsv.predict("fer2013", photo)
    ... except fercsv.BadImageError as exc:
    ...     print(exc.reason, "|", exc)                                         # doctest: +ELLIPSIS
    cannot decode image | /...photo.jpg: cannot decode image (...)
    """

    def __init__(self, message, *, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason


class UnsafePathError(BadInputError):
    """A label or name would write outside the destination folder.

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(f"{d}/odd.csv", "w").write("emotion,pixels,Usage\\n..,0 1 2 3,Training\\n")
    >>> fercsv.csv_to_folder(f"{d}/odd.csv", f"{d}/faces")                     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.UnsafePathError: label '..' cannot be used as a folder name (...); rename it in the CSV
    """


class MissingDependencyError(FercsvError, ImportError):
    """An optional dependency is not installed; the message names the pip extra.

    >>> import fercsv
    >>> from fercsv.core.errors import require
    >>> require("no_such_package", extra="app", feature="the fercsv app")          # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.MissingDependencyError: the fercsv app needs ... 'no_such_package', ...: pip install 'fercsv[app]'
    >>> issubclass(fercsv.MissingDependencyError, ImportError)       # so ``except ImportError`` catches it too
    True
    """


class DownloadError(FercsvError):
    """A download failed, was interrupted or did not match its checksum (nothing is left behind).

    >>> import fercsv, os, socket, tempfile
    >>> closed = socket.socket(); closed.bind(("127.0.0.1", 0))                 # a port nobody answers on
    >>> url = f"http://127.0.0.1:{closed.getsockname()[1]}/fer2013.csv"
    >>> fercsv.download(url, os.path.join(tempfile.mkdtemp(), "fer2013.csv"), quiet=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.DownloadError: download of http://127.0.0.1:.../fer2013.csv failed (ConnectionError: ...); check the link ...
    >>> closed.close()
    """


class ExportError(FercsvError):
    """A model export or its numerical verification failed.

    Here an ONNX file is checked against a model it does not belong to (needs the ``export`` extra):

    >>> import fercsv
    >>> from fercsv.export import verify_onnx
    >>> verify_onnx(fercsv.build_model("seed-cnn"), fercsv.pretrained.path("fer2013"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fercsv.ExportError: /...fer2013.onnx: ONNX output differs from Keras float32 (...); the export is not ...
    """


# Users meet these as ``fercsv.BadInputError`` (the package root exports them), so tracebacks and
# reprs say that rather than the internal module path; pickling (Ray) resolves the same name.
for _cls in (FercsvError, BadInputError, BadRowError, BadImageError, UnsafePathError, MissingDependencyError,
             DownloadError, ExportError):
    _cls.__module__ = "fercsv"
del _cls


def first_line(exc, limit=200) -> str:
    """The first line of an exception's message, or its type name when the message is empty.

    >>> first_line(ValueError("bad\\nmore")), first_line(KeyError())
    ('bad', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def require(module, *, extra, feature):
    """Import ``module`` or raise MissingDependencyError naming the pip extra.

    >>> require("json", extra="core", feature="JSON").dumps(1)
    '1'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the Python package '{module.split('.')[0]}', which is not "
            f"installed ({exc}); install it with: pip install 'fercsv[{extra}]'"
        ) from None
