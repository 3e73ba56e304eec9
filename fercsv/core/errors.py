"""Error types: every failure fercsv knows about is a FercsvError.

Messages name the file, row or value at fault and say what to do about it.
"""


class FercsvError(Exception):
    """Base class for errors that the CLI reports as one line, exit code 1."""


class BadInputError(FercsvError, ValueError):
    """A file, row, value or option is malformed or refers to nothing."""


class BadRowError(BadInputError):
    """A CSV row is malformed; ``line`` is its 1-based line number in the file."""

    def __init__(self, message, *, path=None, line=None):
        super().__init__(message)
        self.path = path
        self.line = line


class BadImageError(BadInputError):
    """An image file is empty, corrupt or cannot be decoded."""

    def __init__(self, message, *, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason


class UnsafePathError(BadInputError):
    """A label or name would write outside the destination folder."""


class MissingDependencyError(FercsvError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


class DownloadError(FercsvError):
    """A download failed, was interrupted or did not match its checksum."""


class ExportError(FercsvError):
    """A model export or its numerical verification failed."""


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
