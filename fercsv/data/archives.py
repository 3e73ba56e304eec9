"""Image folders packed in .zip, .tar, .tar.gz/.tgz (or .tar.bz2/.tar.xz) archives, read in place.

A zip is read member by member on demand; a tar (compressed or not) is read
once, front to back, keeping only its image files in memory. Nothing is
extracted to disk. :class:`Tree` and :class:`ArchiveTree` give
``fercsv.convert`` the same view of a folder and of an archive.
"""
import bz2
import gzip
import lzma
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
import zipfile
import zlib
from pathlib import Path

from ..core.errors import BadInputError
from ..vision.images import is_image_name
from ..core.parallel import default_workers

#: What an archive's first bytes look like -> its kind.
_MAGIC = ((b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"),
          (b"\xfd7zXZ\x00", "xz"))
_OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}


def sniff(path) -> str:
    """What a file is by its first bytes: ``zip``, ``tar``, ``tar.gz`` (``tar.bz2``, ``tar.xz``),
    ``gzip`` (compressed, not a tar), ``image`` or ``other``.

    >>> import tempfile, os, zipfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zip"); zipfile.ZipFile(p, "w").close()
    >>> sniff(p)
    'zip'
    """
    with open(path, "rb") as fh:
        head = fh.read(512)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "zip":
                return "zip"
            try:
                with _OPENERS[kind](path, "rb") as inner:
                    block = inner.read(512)
            except (OSError, EOFError, lzma.LZMAError):
                return kind
            return {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz"}[kind] if _is_tar(block) else kind
    if _is_tar(head):
        return "tar"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")):
        return "image"
    return "other"


def _is_tar(block):
    return len(block) >= 262 and block[257:262] == b"ustar"


def is_archive(path) -> bool:
    """True for an existing file that is a zip or a (compressed) tar archive."""
    path = Path(path)
    return path.is_file() and sniff(path) in ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")


class Tree:
    """A folder on disk seen as a tree of relative posix names ("" is the top)."""

    def __init__(self, root):
        self.root = Path(root)
        self.name = str(root)
        # What ``str(root / rel)`` starts with, so that display() joins strings: a million
        # pathlib joins cost seconds.
        self._prefix = str(self.root / "x")[:-1]

    def _abs(self, rel):
        return self.root / rel if rel else self.root

    def listdir(self, rel=""):
        """``(folders, files)`` directly under ``rel``, sorted, hidden names left out."""
        folders, files = [], []
        for e in os.scandir(self._abs(rel)):
            if not e.name.startswith("."):
                (folders if e.is_dir() else files).append(e.name)
        return sorted(folders), sorted(files)

    def display(self, rel):
        """The name shown to users and the path files are read from (``str(root / rel)``).

        >>> Tree("faces/").display("train/happy/a.png")
        'faces/train/happy/a.png'
        """
        if not rel:
            return str(self.root)
        return self._prefix + (rel if os.sep == "/" else rel.replace("/", os.sep))

    def reader(self, rel):
        """``None``: files on disk are read by path."""
        return None


class ArchiveTree(Tree):
    """A zip or tar archive seen as a tree, without extracting it.

    >>> import tempfile, os, zipfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zip")
    >>> with zipfile.ZipFile(p, "w") as z: z.writestr("faces/happy/1.png", b"x")
    >>> t = ArchiveTree(p); t.listdir(""), t.listdir("faces")
    ((['faces'], []), (['happy'], []))
    """

    def __init__(self, path, *, decode=None, workers=None):
        super().__init__(path)
        self.kind = sniff(path)
        self._dirs, self._files = {"": set()}, {"": set()}
        self._data = {}
        if self.kind == "zip":
            members, damaged = self._zip_members, (zipfile.BadZipFile, OSError, EOFError, zlib.error)
        elif self.kind.startswith("tar"):
            members, damaged = self._tar_members, (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
        else:
            raise BadInputError(f"{path}: not a zip or tar archive (it looks like {self.kind}); give an "
                                "image folder, a .zip/.tar/.tar.gz of one, or a CSV")
        # The archive is read once, front to back; with ``decode`` each image is decoded in a
        # thread pool while the reading goes on, so decompression and decoding overlap.
        pool = ThreadPoolExecutor(max_workers=workers or default_workers()) if decode else None
        batch = []
        try:
            for name, read in members():
                clean = _clean(name)
                if is_image_name(clean) and not _hidden(clean):
                    if pool:
                        batch.append((clean, read(), self.display(clean)))
                        if len(batch) == _BATCH:
                            self._submit(pool, decode, batch)
                            batch = []
                    else:
                        self._data[clean] = read()
                self._add(clean)
            if batch:
                self._submit(pool, decode, batch)
        except damaged as exc:
            raise BadInputError(f"{path}: damaged {self.kind} archive ({exc}); download it again") from None
        finally:
            if pool:
                pool.shutdown(wait=False)

    def _submit(self, pool, decode, batch):
        # One task per batch of images: a task per image costs more in scheduling than in decoding.
        future = pool.submit(_decode_all, decode, [(data, shown) for _, data, shown in batch])
        for i, (clean, _, _) in enumerate(batch):
            self._data[clean] = _Decoded(future, i)

    def _zip_members(self):
        with zipfile.ZipFile(self.root) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info: z.read(info)

    def _tar_members(self):
        opener = {"tar.gz": gzip.open, "tar.bz2": bz2.open, "tar.xz": lzma.open}.get(self.kind, open)
        with opener(self.root, "rb") as fh:
            yield from _tar_files(fh)

    def _add(self, name):
        name = _clean(name)
        if not name or _hidden(name):
            return
        parent, _, leaf = name.rpartition("/")
        files = self._files.get(parent)
        if files is None:  # a folder not seen yet: register it and its parents
            files = self._files[parent] = set()
            child = parent
            while child:
                up, _, base = child.rpartition("/")
                self._dirs.setdefault(child, set())
                self._files.setdefault(child, set())
                self._dirs.setdefault(up, set()).add(base)
                child = up
        files.add(leaf)

    def listdir(self, rel=""):
        return sorted(self._dirs.get(rel, ())), sorted(self._files.get(rel, ()))

    def display(self, rel):
        return f"{self.name}/{rel}" if rel else self.name

    def reader(self, rel):
        """A function giving member ``rel``: its bytes, or its decoded image when built with ``decode``."""
        item = self._data[rel]
        return item.result if isinstance(item, _Decoded) else (lambda: item)


_BATCH = 256


class _Decoded:
    """One image of a batch decoded in the pool; ``result()`` gives it or raises its error."""

    def __init__(self, future, index):
        self.future, self.index = future, index

    def result(self):
        value = self.future.result()[self.index]
        if isinstance(value, Exception):
            raise value
        return value


def _decode_all(decode, items):
    out = []
    for data, name in items:
        try:
            out.append(decode(data, name))
        except Exception as exc:  # re-raised by _Decoded.result for this image only
            out.append(exc)
    return out


def _tar_files(fh):
    """Yield ``(name, read)`` for each regular file of an uncompressed tar stream; call ``read()``
    before asking for the next one (the stream only moves forward).

    A direct reading of the ustar/GNU/pax headers: with tens of thousands of small images this is
    several times faster than the tarfile module's per-member objects.
    """
    offset, long_name = 0, None
    while True:
        header = fh.read(512)
        if len(header) < 512 or header.count(0) == 512:
            return  # end-of-archive blocks (or a tar without them)
        if _checksum(header) != _octal(header[148:156]):
            raise ValueError(f"bad header checksum at byte {offset}")
        size = _octal(header[124:136]) if header[124] < 0x80 else int.from_bytes(header[125:136], "big")
        kind = header[156:157]
        padded = (size + 511) // 512 * 512
        offset += 512 + padded
        if kind in (b"0", b"\0", b"7"):
            name = header[0:100].split(b"\0", 1)[0].decode("utf-8", "replace")
            prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "replace") \
                if header[257:262] == b"ustar" else ""
            taken = []
            yield long_name or (f"{prefix}/{name}" if prefix else name), lambda: _take(fh, size, padded, taken)
            if not taken:
                _take(fh, size, padded, taken)
            long_name = None
            continue
        body = _take(fh, size, padded, [])
        if kind == b"L":  # GNU long name of the next member
            long_name = body.rstrip(b"\0").decode("utf-8", "replace")
        elif kind == b"x":  # pax header: the next member's path may be here
            for record in body.decode("utf-8", "replace").split("\n"):
                key, _, value = record.partition(" ")[2].partition("=")
                if key == "path":
                    long_name = value
        elif kind != b"g":
            long_name = None


def _take(fh, size, padded, taken):
    data = fh.read(padded)
    if len(data) < padded:
        raise ValueError("the archive ends inside a member")
    taken.append(True)
    return data[:size]


def _octal(field):
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _checksum(header):
    return sum(header[:148]) + 256 + sum(header[156:])


def _clean(name):
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def _hidden(name):
    # Hidden files and macOS resource forks (__MACOSX/, ._name) are not images of the dataset.
    return name.startswith((".", "__MACOSX")) or "/." in name or "/__MACOSX" in name


def open_tree(src, *, decode=None, workers=None):
    """A :class:`Tree` for a folder or an :class:`ArchiveTree` for an archive file."""
    src = Path(src)
    if src.is_dir():
        return Tree(src)
    if src.is_file():
        return ArchiveTree(src, decode=decode, workers=workers)
    raise BadInputError(f"{src}: no such file or folder; give an image folder, a .zip/.tar/.tar.gz of one, "
                        "or a CSV")


def members(path) -> list:
    """Names of the files in an archive (directories left out)."""
    if sniff(path) == "zip":
        with zipfile.ZipFile(path) as z:
            return [i.filename for i in z.infolist() if not i.is_dir()]
    with tarfile.open(path, "r:*") as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]


class _Member:
    """A file object for one archive member that also closes the archive."""

    def __init__(self, archive, fh, name):
        self._archive, self._fh, self.name = archive, fh, name

    def __getattr__(self, attr):
        return getattr(self._fh, attr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._fh.close()
        self._archive.close()


def open_member(path, member):
    """Open one member of a zip or tar archive for binary reading (seekable, closes the archive)."""
    if sniff(path) == "zip":
        archive = zipfile.ZipFile(path)
        return _Member(archive, archive.open(member), member)
    archive = tarfile.open(path, "r:*")
    return _Member(archive, archive.extractfile(member), member)


def describe_non_csv(path, kind):
    """One line saying what ``path`` is, since it is not a CSV, and what to do with it."""
    if kind == "image":
        return (f"{path} is an image, not a CSV; convert a folder of images with "
                f"fercsv.convert(FOLDER, 'faces.csv') (CLI: fercsv convert FOLDER faces.csv), "
                "or predict it with fercsv.predict")
    names = members(path)
    csvs = [n for n in names if n.lower().endswith((".csv", ".csv.gz"))]
    images = sum(is_image_name(n) for n in names)
    if images:
        return (f"{path} is a {kind} archive of {images} images, not a CSV; convert it with "
                f"fercsv.convert({str(path)!r}, 'faces.csv') (CLI: fercsv convert {path} faces.csv) "
                f"or load it with fercsv.read_folder({str(path)!r})")
    if csvs:
        return (f"{path} is a {kind} archive holding {len(csvs)} CSV files ({', '.join(csvs[:4])}), "
                "not a CSV; extract the one you want and read that")
    return f"{path} is a {kind} archive with no CSV or images in it ({len(names)} files), not a CSV"


def is_image_folder(path) -> bool:
    """True for a folder, or an archive holding image files: what ``fercsv.convert`` turns into a CSV.

    >>> import tempfile
    >>> is_image_folder(tempfile.mkdtemp())
    True
    """
    path = Path(path)
    if path.is_dir():
        return True
    return is_archive(path) and any(is_image_name(n) and not _hidden(n) for n in members(path))
