"""Argument checks run on entry to every public function, before anything is read or written.

One message shape everywhere: which option of which function (and its CLI flag), the value
given, and what is allowed, e.g. ``train: epochs (CLI --epochs) must be an integer >= 1; got 0``.
"""
import numbers

from .errors import BadInputError


def _where(func, name):
    return f"{func}: {name} (CLI --{name.replace('_', '-')})"


def choice(func: str, name: str, value, allowed):
    """Return ``value`` if it is one of ``allowed`` (a table's keys), else raise BadInputError.

    >>> choice("train", "schedule", "cosine", ("cosine", "plateau"))
    'cosine'
    >>> choice("train", "schedule", "steps", ("cosine", "plateau"))
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: train: schedule (CLI --schedule) must be one of cosine, plateau; got 'steps'
    """
    allowed = list(allowed)
    if value not in allowed:
        shown = ", ".join("None" if a is None else str(a) for a in allowed)
        raise BadInputError(f"{_where(func, name)} must be one of {shown}; got {value!r}")
    return value


def integer(func: str, name: str, value, *, minimum=None, maximum=None, optional=False):
    """Return ``value`` if it is an integer within ``[minimum, maximum]`` (None allowed if ``optional``).

    >>> integer("synth", "per_class", 5, minimum=1)
    5
    """
    if value is None and optional:
        return value
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        bounds = " and ".join(b for b in ((f">= {minimum}" if minimum is not None else ""),
                                         (f"<= {maximum}" if maximum is not None else "")) if b)
        raise BadInputError(f"{_where(func, name)} must be an integer{' ' + bounds if bounds else ''}"
                            f"{' or None' if optional else ''}; got {value!r}")
    return int(value)


#: The largest seed: NumPy and Keras take seeds in ``0 .. 2**32 - 1``.
SEED_MAX = 2**32 - 1


def seed(func: str, value, *, name: str = "seed") -> int:
    """Return ``value`` if it is a usable random seed, an integer in ``0 .. SEED_MAX``.

    >>> seed("split", 7)
    7
    """
    return integer(func, name, value, minimum=0, maximum=SEED_MAX)


def number(func: str, name: str, value, *, minimum=None, maximum=None, above=None, below=None,
           optional=False):
    """Return ``value`` as a float if it lies in the allowed range (``above``/``below`` are strict).

    >>> number("train", "lr", 0.001, above=0)
    0.001
    """
    if value is None and optional:
        return value
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    ok = ok and (minimum is None or value >= minimum) and (above is None or value > above) \
        and (below is None or value < below) and (maximum is None or value <= maximum)
    if not ok:
        bounds = " and ".join(b for b in ((f">= {minimum}" if minimum is not None else ""),
                                         (f"> {above}" if above is not None else ""),
                                         (f"< {below}" if below is not None else ""),
                                         (f"<= {maximum}" if maximum is not None else "")) if b)
        raise BadInputError(f"{_where(func, name)} must be a number{' ' + bounds if bounds else ''}"
                            f"{' or None' if optional else ''}; got {value!r}")
    return float(value)
