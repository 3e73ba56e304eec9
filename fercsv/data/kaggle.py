"""Kaggle datasets (``kaggle:OWNER/DATASET``) through Kaggle's public HTTP API, as the zip Kaggle serves.

Credentials come from Colab's secrets (``KAGGLE_USERNAME``, ``KAGGLE_KEY``), the
environment (same names) or ``~/.kaggle/kaggle.json``, in that order. The zip is
kept whole: ``fercsv.convert`` and ``fercsv.read_folder`` read image folders inside
it, ``fercsv.read_csv`` reads a zip holding one CSV.
"""
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BadInputError, DownloadError, require

#: Kaggle's API root; $FERCSV_KAGGLE_API points elsewhere (a mirror, or a test server).
API = "https://www.kaggle.com/api/v1"

#: FER-2013 on Kaggle: the image-folder zip (train/, test/) the notebook uses by default.
FER2013 = "msambare/fer2013"

_REF = re.compile(r"^([A-Za-z0-9][\w.-]*)/([A-Za-z0-9][\w.-]*)$")

HOW = ("add the Colab secrets KAGGLE_USERNAME and KAGGLE_KEY (key icon in Colab's left bar), or set the "
       "environment variables KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json (Kaggle > Settings > "
       "API > Create New Token) in ~/.kaggle/")


@dataclass
class Credentials:
    """A Kaggle user name and API key, and where they were found."""

    username: str
    key: str
    source: str

    def __repr__(self):  # never print the key
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def parse_ref(ref: str):
    """``"kaggle:owner/dataset"`` or ``"owner/dataset"`` -> ``(owner, dataset)``.

    >>> parse_ref("kaggle:msambare/fer2013")
    ('msambare', 'fer2013')
    """
    text = str(ref).strip().removeprefix("kaggle:").strip("/")
    text = re.sub(r"^https://www\.kaggle\.com/datasets/", "", text)
    m = _REF.match(text)
    if not m:
        raise BadInputError(f"{ref!r} is not a Kaggle dataset; write it as kaggle:OWNER/DATASET "
                            f"(e.g. kaggle:{FER2013})")
    return m.group(1), m.group(2)


def _colab_secret(name):
    try:
        from google.colab import userdata
    except ImportError:
        return None
    try:
        return userdata.get(name)
    except Exception:  # secret missing, or the notebook was not granted access to it
        return None


def credentials() -> Credentials:
    """Find Kaggle credentials (Colab secrets, environment, kaggle.json) or raise one line naming all three."""
    user, key = _colab_secret("KAGGLE_USERNAME"), _colab_secret("KAGGLE_KEY")
    if user and key:
        return Credentials(user, key, "Colab secrets")
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if user and key:
        return Credentials(user, key, "environment")
    folder = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    path = folder / "kaggle.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            return Credentials(data["username"], data["key"], str(path))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path}: not a Kaggle token file ({type(exc).__name__}: {exc}); download a new "
                                "one from Kaggle > Settings > API > Create New Token") from None
    raise DownloadError(f"no Kaggle credentials found; {HOW}")


def download_dataset(ref: str, dest=None, *, force: bool = False, quiet: bool = False, api: str = None) -> Path:
    """Download a Kaggle dataset as its zip into the folder ``dest``; return the zip's path.

    An existing zip is reused unless ``force``. The zip appears only when complete.

    >>> fercsv.download("kaggle:msambare/fer2013", "data")          # doctest: +SKIP
    PosixPath('data/fer2013.zip')
    """
    from .cache import cache_dir

    owner, dataset = parse_ref(ref)
    folder = Path(dest) if dest is not None else cache_dir() / "kaggle" / owner
    if folder.suffix.lower() == ".zip":
        folder, target = folder.parent, folder
    else:
        target = folder / f"{dataset}.zip"
    if target.is_file() and not force:
        if not quiet:
            print(f"using cached {target} (force=True downloads again)")
        return target
    creds = credentials()
    requests = require("requests", extra="colab", feature="Kaggle downloads")
    url = f"{(api or os.environ.get('FERCSV_KAGGLE_API') or API).rstrip('/')}/datasets/download/{owner}/{dataset}"
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    try:
        first = requests.get(url, auth=(creds.username, creds.key), allow_redirects=False, timeout=60)
        _check_status(first, owner, dataset, creds)
        # Kaggle answers with a signed storage URL; the storage host refuses a request that also
        # carries our credentials, so the redirect is followed by hand, without them.
        location = requests.compat.urljoin(url, first.headers["Location"]) if first.is_redirect else url
        with requests.get(location, stream=True, timeout=60,
                          auth=None if first.is_redirect else (creds.username, creds.key)) as response:
            _check_status(response, owner, dataset, creds)
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _bar(total, quiet, target.name)
            with open(part, "wb") as fh:
                for chunk in response.iter_content(1 << 20):
                    fh.write(chunk)
                    bar.update(len(chunk))
            bar.close()
        if total is not None and part.stat().st_size != total:
            raise DownloadError(f"download of kaggle:{owner}/{dataset} stopped after {part.stat().st_size} of "
                                f"{total} bytes; run it again")
        os.replace(part, target)
    except requests.RequestException as exc:
        raise DownloadError(f"could not reach Kaggle for kaggle:{owner}/{dataset} ({type(exc).__name__}); "
                            "check the internet connection and retry") from None
    finally:
        part.unlink(missing_ok=True)
    return target


def _check_status(response, owner, dataset, creds):
    status = response.status_code
    if status == 200 or response.is_redirect:
        return
    page = f"https://www.kaggle.com/datasets/{owner}/{dataset}"
    if status == 401:
        raise DownloadError(f"Kaggle refused the credentials of {creds.username!r} (from {creds.source}); "
                            "create a new API token at https://www.kaggle.com/settings and update them")
    if status == 403:
        raise DownloadError(f"Kaggle does not let {creds.username!r} download kaggle:{owner}/{dataset}; "
                            f"open {page} and accept its rules, then retry")
    if status == 404:
        raise DownloadError(f"Kaggle has no dataset {owner}/{dataset}; check the name on {page}")
    raise DownloadError(f"Kaggle answered HTTP {status} for kaggle:{owner}/{dataset}; retry later")


def _bar(total, quiet, name):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=quiet, unit="B", unit_scale=True, desc=name, mininterval=0.5)
