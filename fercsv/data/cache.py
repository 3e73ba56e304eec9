"""Where downloads go when no destination is given: ``$FERCSV_CACHE`` or ``~/.cache/fercsv``."""
import os
from pathlib import Path


def cache_dir():
    """Where downloads without an explicit destination go ($FERCSV_CACHE or ~/.cache/fercsv)."""
    return Path(os.environ.get("FERCSV_CACHE", Path.home() / ".cache" / "fercsv"))
