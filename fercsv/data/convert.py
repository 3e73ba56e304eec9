"""Convert image folders to FER-2013 CSVs and back, streaming, in parallel, atomically.

Layouts ``SRC/<label>/*`` and ``SRC/<split>/<label>/*``; bad files are skipped
and reported (or fail the run with ``strict=True``). ``shard="K/N"`` does the K-th of N
contiguous parts of a run, so that the parts joined in order are the whole run's output.
"""
import functools
import operator
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import labels as L
from . import pixels
from .reports import ConvertReport
from .dataset import CSVWriter, FERDataset, read_csv, write_csv
from ..core.errors import BadImageError, BadInputError, UnsafePathError
from .archives import is_archive, open_tree
from .archives import members as archive_members
from ..vision.images import encode_png, gray_from_bytes, is_image_name, read_file
from ..core.parallel import default_workers, ordered_map, shared_buffers
from .shards import parse_shard

_BATCH = 256
#: Fewer images than this are converted in threads: forking worker processes is not worth it.
_PROCESS_MIN = 2048
#: Batches in flight per worker (each worker process holds a shared text buffer per batch).
_AHEAD = 2


class Entry(NamedTuple):
    """One image file found in a folder, with its label and Usage."""

    path: str
    rel: str
    label: str
    usage: str
    read: object = None  # returns the file's bytes (archive members); None: read ``path`` from disk


def discover(src, *, decode=None, workers=None):
    """List the image files of a folder (or of a .zip/.tar/.tar.gz holding one) as entries.

    Returns ``(entries, ignored)`` with entries sorted by Usage, label code and
    file name, the deterministic order of the CSV rows. A lone wrapper folder
    (``fer2013/train/...``) is looked through. For an archive, ``decode(bytes, name)`` is run on
    each image in ``workers`` threads while the archive is read (``entry.read()`` then gives its result).
    """
    tree = open_tree(src, decode=decode, workers=workers)
    top = _top(tree)
    folders, _ = tree.listdir(top)
    splits = [f for f in folders if L.usage_from_folder(f)]
    if splits and len(splits) != len(folders):
        others = [f for f in folders if f not in splits]
        raise BadInputError(
            f"{src}: mixes split folders ({', '.join(splits)}) with other "
            f"folders ({', '.join(others)}); move label folders under train/val/test")
    groups = [(L.usage_from_folder(s), _join(top, s)) for s in splits] if splits else [(None, top)]
    groups_of, ignored = {}, []  # (usage, label) -> entries
    prefixes = {}  # Kaggle's Usage prefix (``PublicTest_``) looked up once per distinct prefix
    for usage, base in groups:
        for label_name in tree.listdir(base)[0]:
            label = L.canonical_label(label_name)
            for rel, full in _walk_files(tree, _join(base, label_name)):
                name = rel[rel.rfind("/") + 1:]
                if not is_image_name(name):
                    ignored.append(tree.display(full))
                    continue
                prefix = name[:name.find("_") + 1]
                use = prefixes.get(prefix)
                if use is None:
                    use = prefixes[prefix] = L.usage_from_filename(prefix) or ""
                use = use or usage or "Training"
                group = groups_of.get((use, label))
                if group is None:
                    group = groups_of[use, label] = []
                group.append(Entry(tree.display(full), rel, label, use, tree.reader(full)))
        if base != top:
            ignored += _loose_files(tree, base)
    ignored += _loose_files(tree, top)
    if not groups_of:
        raise BadInputError(f"{src}: found no images in <label>/ or <split>/<label>/ subfolders")
    table = L.label_table({label for _, label in groups_of})
    entries = []
    for key in sorted(groups_of, key=lambda k: (L.USAGES.index(k[0]), table.index(k[1]))):
        entries += sorted(groups_of[key], key=operator.itemgetter(1))  # by ``rel``
    return entries, ignored


def _join(parent, name):
    return f"{parent}/{name}" if parent else name


def _top(tree):
    """Descend through lone wrapper folders (not a split or emotion name, holding only folders)."""
    rel = ""
    while True:
        folders, files = tree.listdir(rel)
        if len(folders) != 1 or files or L.usage_from_folder(folders[0]) or L.known_code(folders[0]) is not None:
            return rel
        inner = _join(rel, folders[0])
        sub_folders, sub_files = tree.listdir(inner)
        if not sub_folders or any(is_image_name(f) for f in sub_files):
            return rel
        rel = inner


def _loose_files(tree, rel):
    return [tree.display(_join(rel, f)) for f in tree.listdir(rel)[1]]


def _walk_files(tree, folder, prefix=""):
    """Yield ``(name relative to folder, name in the tree)`` of every file under ``folder``."""
    folders, files = tree.listdir(folder)
    for f in files:
        yield prefix + f, _join(folder, f)
    for d in folders:
        yield from _walk_files(tree, _join(folder, d), f"{prefix}{d}/")


@dataclass(frozen=True)
class _Job:
    """What a worker does with each batch of images; it crosses into worker processes, so it
    holds only plain data (``preprocess`` keeps a job in threads)."""

    size: int
    equalize: bool
    strict: bool
    preprocess: object = None
    heads: tuple = None  # CSV text wanted: row heads and tails (pixels.encode_lines); None: images
    tails: tuple = None


def _work(job, slots, item):
    """Decode batch ``k``; returns ``(text, images, good, bad)``.

    ``item`` is ``(k, (paths, reads, head_of, tail_of))``. When the job has line tables the CSV
    lines of the good images go into ``slots[k % len(slots)]`` and ``text`` is their length
    (in forked workers the slots are shared memory: the parent writes them out in place, with
    no copy through a pipe); otherwise ``images`` holds the images. ``good`` indexes the
    decoded entries of the batch, ``bad`` lists ``(index, message, reason)``.
    """
    k, (paths, reads, head_of, tail_of) = item
    arr = np.empty((len(paths), job.size, job.size), np.uint8)  # filled row by row: np.stack costs more
    good, bad = [], []
    for i, path in enumerate(paths):
        try:
            arr[len(good)] = _decode_one(job, path, reads[i] if reads else None)
        except BadImageError as exc:
            bad.append((i, str(exc), exc.reason or str(exc)))
            if job.strict:
                break
            continue
        good.append(i)
    arr = arr[:len(good)]
    if job.heads is None:
        return None, arr, good, bad
    text = pixels.encode_lines(arr, heads=job.heads, head_of=head_of[good], tails=job.tails,
                               tail_of=tail_of[good], out=slots[k % len(slots)])
    return text, None, good, bad


def _decode_one(job, path, read):
    if read is not None:
        img = read()
        if not isinstance(img, np.ndarray):
            img = gray_from_bytes(img, name=path, size=job.size, equalize=job.equalize)
        return img
    if job.preprocess is not None:
        return job.preprocess(path)
    return gray_from_bytes(read_file(path), name=path, size=job.size, equalize=job.equalize)


def _decoded(entries, job, *, workers, progress, report, table):
    """Yield ``(batch, text, images, good)`` for batches of entries, in order, decoded in parallel.

    Folders (with no ``preprocess``) go to worker processes where the platform allows: reading
    many small files and formatting text hold the GIL too long for threads to scale.
    """
    codes = {name: k for k, name in enumerate(table)}
    usages = {u: k for k, u in enumerate(L.USAGES)}
    batches = [entries[i:i + _BATCH] for i in range(0, len(entries), _BATCH)]
    in_memory = any(e.read is not None for e in entries)

    def tasks():
        for batch in batches:
            yield ([e.path for e in batch], [e.read for e in batch] if in_memory else None,
                   np.array([codes[e.label] for e in batch], np.intp),
                   np.array([usages[e.usage] for e in batch], np.intp))

    workers = workers or default_workers()
    processes = not in_memory and job.preprocess is None and len(entries) >= _PROCESS_MIN
    # One text buffer per batch in flight, reused: fresh megabytes per batch cost page faults.
    slots = None if job.heads is None else shared_buffers(
        workers * _AHEAD, pixels.encoded_size(_BATCH, job.size ** 2, job.heads, job.tails))
    results = ordered_map(functools.partial(_work, job, slots), enumerate(tasks()), workers=workers,
                          processes=processes, ahead=_AHEAD)
    bar = _progress(len(entries), progress, "convert")
    try:
        for k, (batch, (text, images, good, bad)) in enumerate(zip(batches, results)):
            if text is not None:
                text = slots[k % len(slots)][:text]
            for i, message, reason in bad:
                if job.strict:
                    raise BadImageError(message, path=batch[i].path, reason=reason)
                report.skipped.append((batch[i].path, reason))
            bar.update(len(batch))
            yield batch, text, images, good
    finally:
        results.close()
        bar.close()


def iter_folder(src, *, size=48, equalize=False, shuffle=False, seed=0, workers=None,
                strict=False, progress=False, preprocess=None, report=None, found=None, shard=None):
    """Yield ``(images, entries)`` batches of a folder's images, in row order.

    Skipped and ignored files go into ``report`` (a :class:`ConvertReport`). A ``shard``
    (:class:`~fercsv.data.shards.Shard`) keeps its block of the rows, taken after the shuffle.
    """
    report = report if report is not None else ConvertReport(str(src), "memory")
    entries = _select(src, report, found, shuffle=shuffle, seed=seed, shard=shard)
    job = _Job(size, equalize, strict, preprocess)
    for batch, _, images, good in _decoded(entries, job, workers=workers, progress=progress,
                                           report=report, table=report.label_names):
        yield images, [batch[i] for i in good]


def _select(src, report, found, *, shuffle, seed, shard):
    """The entries of a run, in row order; fills the report's ignored files and label table."""
    entries, ignored = found or discover(src)
    report.ignored = ignored
    report.label_names = L.label_table({e.label for e in entries})
    if shuffle:
        entries = list(entries)
        random.Random(seed).shuffle(entries)
    if shard is not None:
        entries = shard.take(entries)
    return entries


def _progress(total, enabled, desc):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img", mininterval=0.5)


def folder_to_csv(src, dst, *, size=48, equalize=False, shuffle=False, seed=0, workers=None,
                  strict=False, progress=False, label_format="auto", preprocess=None, shard=None):
    """Convert an image folder to a FER-2013 CSV (``emotion,pixels,Usage``).

    Returns a :class:`ConvertReport`. ``dst`` ending in ``.gz`` is compressed.
    The CSV appears only when complete; with ``strict=True`` the first bad
    image raises :class:`BadImageError` and no CSV is written. With ``shard="K/N"`` only the
    K-th of N contiguous blocks of the rows is written (same header, labels and row order as
    the whole run), so ``fercsv concat`` of shards 1..N gives the whole run's CSV, byte for byte.

    >>> import tempfile, os, cv2
    >>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/faces/Happiness")
    >>> _ = cv2.imwrite(f"{d}/faces/Happiness/a.png", np.zeros((64, 64), np.uint8))
    >>> folder_to_csv(f"{d}/faces", f"{d}/out.csv").counts
    {'Training': {'happy': 1}}
    """
    shard = parse_shard(shard, func="folder_to_csv")
    check_size(size)
    _check_preprocess(src, preprocess)
    start = time.perf_counter()
    report = ConvertReport(str(src), str(dst), shard=str(shard or ""))
    # A shard of an archive decodes only its own images (the archive's bytes are held meanwhile).
    decode = None if shard is not None and is_archive(src) else _decoder(size, equalize, preprocess)
    found = discover(src, decode=decode, workers=workers)
    entries = _select(src, report, found, shuffle=shuffle, seed=seed, shard=shard)
    with CSVWriter(dst, label_names=report.label_names, label_format=label_format) as out:
        heads, tails = out.line_tables()
        job = _Job(size, equalize, strict, preprocess, tuple(heads), tuple(tails))
        for batch, text, _, good in _decoded(entries, job, workers=workers, progress=progress,
                                             report=report, table=report.label_names):
            out.write_lines(text, len(good))
            for i in good:
                report.add(batch[i].usage, batch[i].label)
    report.seconds = time.perf_counter() - start
    return report


def read_folder(src, *, size=48, equalize=False, workers=None, keep_paths=True, progress=False,
                preprocess=None, report=None):
    """Load an image folder, or a .zip/.tar/.tar.gz of one, into a :class:`FERDataset`.

    ``extra["file"]`` holds the paths (``archive/member`` for archives). Archives are read in
    place, never extracted to disk.

    >>> import tempfile, os, zipfile, cv2
    >>> p = os.path.join(tempfile.mkdtemp(), "faces.zip")
    >>> with zipfile.ZipFile(p, "w") as z:
    ...     z.writestr("train/happy/a.png", cv2.imencode(".png", np.zeros((64, 64), np.uint8))[1].tobytes())
    >>> read_folder(p).images.shape
    (1, 48, 48)
    """
    check_size(size)
    _check_preprocess(src, preprocess)
    report = report if report is not None else ConvertReport(str(src), "memory")
    parts, kept_all = [], []
    found = discover(src, decode=_decoder(size, equalize, preprocess), workers=workers)
    for images, kept in iter_folder(src, size=size, equalize=equalize, workers=workers, progress=progress,
                                    preprocess=preprocess, report=report, found=found):
        parts.append(images)
        kept_all += kept
    table = report.label_names
    images = np.concatenate(parts) if parts else np.zeros((0, size, size), np.uint8)
    ds = FERDataset(images, np.array([table.index(e.label) for e in kept_all], np.int64),
                    np.array([e.usage for e in kept_all], dtype=object), table, source=str(src))
    if keep_paths:
        ds.extra["file"] = np.array([str(e.path) for e in kept_all], dtype=object)
    return ds


def _decoder(size, equalize, preprocess):
    """What an archive's reader threads do to each image as it arrives: decode it, unless a
    ``preprocess`` (which reads files itself) takes over."""
    if preprocess is not None:
        return None
    return lambda data, name: gray_from_bytes(data, name=name, size=size, equalize=equalize)


def _check_preprocess(src, preprocess):
    if preprocess is not None and not Path(src).is_dir():
        raise BadInputError(f"{src}: face cropping (preprocess=, CLI --faces) reads photos from a folder; "
                            "extract the archive first, then convert the folder")


def _check_destination(dst, overwrite, shared=False):
    dst = Path(dst)
    if dst.exists() and not dst.is_dir():
        raise BadInputError(f"{dst}: exists and is not a folder; choose another destination")
    if not shared and dst.exists() and any(dst.iterdir()) and not overwrite:
        raise BadInputError(f"{dst}: folder is not empty; choose an empty folder or pass "
                            "overwrite=True (CLI --overwrite)")
    return dst


def csv_to_folder(src, dst, *, overwrite=False, workers=None, progress=False, on_bad_rows="raise",
                  shard=None):
    """Write the images of a FER-2013 CSV as PNG files (lossless).

    Layout ``dst/<train|val|test>/<label>/<n>.png`` from Usage, or
    ``dst/<label>/<n>.png`` when the CSV has no Usage column. Label values
    that are not safe folder names are refused; nothing is written outside
    ``dst``. Returns a :class:`ConvertReport`.

    With ``shard="K/N"`` only the K-th of N contiguous blocks of rows is written, under the
    names the whole run gives them, so all shards may fill one folder side by side: the
    folder may hold other files, a shard never deletes any, and it refuses to replace its own
    files unless ``overwrite=True``.

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = fercsv.write_csv(fercsv.synth_dataset(per_class=2, seed=0), f"{d}/faces.csv")
    >>> report = csv_to_folder(f"{d}/faces.csv", f"{d}/faces")
    >>> report.rows, sorted(p.name for p in Path(d, "faces").iterdir())
    (42, ['test', 'train', 'val'])
    >>> bool((fercsv.read_folder(f"{d}/faces").images == fercsv.read_csv(f"{d}/faces.csv").images).all())
    True
    """
    shard = parse_shard(shard, func="csv_to_folder")
    start = time.perf_counter()
    dataset = src if isinstance(src, FERDataset) else read_csv(src, on_bad_rows=on_bad_rows)
    dst = _check_destination(dst, overwrite, shared=shard is not None)
    report = ConvertReport(str(getattr(dataset, "source", src)), str(dst),
                           label_names=list(dataset.label_names), shard=str(shard or ""))
    report.skipped = [(f"line {line}", reason) for line, reason in dataset.problems]
    has_usage = dataset.columns is None or any(c.lower() in ("usage", "split", "set")
                                               for c in dataset.columns)
    names = [L.safe_component(dataset.name_of(c)) for c in range(-1, len(dataset.label_names))]
    root = dst.resolve()
    folders = {}
    for usage in L.USAGES:
        for code in range(-1, len(dataset.label_names)):
            parts = ([L.USAGE_FOLDERS[usage]] if has_usage else []) + [names[code + 1]]
            folder = (root.joinpath(*parts)).resolve()
            if root not in folder.parents:
                raise UnsafePathError(f"label {names[code + 1]!r} would write outside {dst}")
            folders[usage, code] = folder
    width = max(5, len(str(len(dataset))))
    seq = {}
    jobs = []
    for i in range(len(dataset)):
        key = (dataset.usage[i], int(dataset.labels[i]))
        seq[key] = seq.get(key, -1) + 1
        jobs.append((i, folders[key] / f"{seq[key]:0{width}d}.png"))
    if shard is not None:
        jobs = shard.take(jobs)
        _check_own_files(dst, jobs, shard, overwrite)
    elif overwrite:
        for key in seq:
            if folders[key].is_dir():
                for old in folders[key].glob("*.png"):
                    old.unlink()
    for key in {(dataset.usage[i], int(dataset.labels[i])) for i, _ in jobs}:
        folders[key].mkdir(parents=True, exist_ok=True)

    def write(job):
        i, path = job
        tmp = path.with_name(f".{path.name}.part")
        try:
            tmp.write_bytes(encode_png(dataset.images[i]))
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return i

    bar = _progress(len(jobs), progress, "write")
    for i in ordered_map(write, jobs, workers=workers or default_workers(), ahead=64):
        report.add(dataset.usage[i], dataset.name_of(int(dataset.labels[i])))
        bar.update(1)
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _check_own_files(dst, jobs, shard, overwrite):
    if overwrite:
        return
    taken = [path for _, path in jobs if path.exists()]
    if taken:
        raise BadInputError(f"{dst}: {len(taken)} of the images of shard {shard} already exist "
                            f"(e.g. {taken[0]}); pass overwrite=True (CLI --overwrite) to replace them")


#: Options of each direction of :func:`convert`, with their defaults (a default value is never refused).
FOLDER_OPTIONS = {"size": 48, "equalize": False, "shuffle": False, "seed": 0, "workers": None,
                  "strict": False, "progress": False, "label_format": "auto", "preprocess": None,
                  "shard": None}
CSV_OPTIONS = {"overwrite": False, "workers": None, "progress": False, "on_bad_rows": "raise", "shard": None}
FERPLUS_OPTIONS = {"ferplus": None, "ferplus_mode": "majority", "label_format": "auto", "shard": None}
_FLAGS = {"preprocess": "faces", "on_bad_rows": "skip-bad-rows"}

#: File endings that name a file, not a folder to fill with images.
_FILE_SUFFIXES = frozenset(".csv .gz .txt .tsv .json .zip .tar .tgz .npz .npy .xlsx".split())


def convert(src, dst, **options):
    """Convert in the direction ``src`` implies: an image folder (or a .zip/.tar/.tar.gz of one)
    becomes a CSV, a CSV becomes a folder of PNGs.

    With ``ferplus=VOTES.csv`` (and ``ferplus_mode``) a FER-2013 CSV becomes a FER+ CSV.
    An option that does not apply to the chosen direction is refused (unless left at its default).
    ``shard="K/N"`` (every direction) does the K-th of N parts; see :mod:`fercsv.data.shards`.

    >>> import tempfile
    >>> convert(tempfile.mkdtemp(), "out.csv", size=0)
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: size must be a whole number of pixels >= 1, not 0 (CLI --size)
    """
    unknown = sorted(set(options) - set(FOLDER_OPTIONS) - set(CSV_OPTIONS) - set(FERPLUS_OPTIONS))
    if unknown:
        raise BadInputError(f"convert got unknown option(s) {', '.join(unknown)}; it takes "
                            f"{', '.join(sorted({*FOLDER_OPTIONS, *CSV_OPTIONS, *FERPLUS_OPTIONS}))}")
    if "shard" in options:
        options["shard"] = parse_shard(options["shard"], func="convert")
    if "size" in options:
        check_size(options["size"])
    src_path = Path(src)
    if options.get("ferplus"):
        _refuse_others(options, FERPLUS_OPTIONS, f"{src} with ferplus= becomes a FER+ CSV")
        return _ferplus(src, dst, options["ferplus"], mode=options.get("ferplus_mode", "majority"),
                        label_format=options.get("label_format", "auto"), shard=options.get("shard"))
    if src_path.is_dir() or (src_path.is_file() and is_archive(src_path)):
        what = "an image folder" if src_path.is_dir() else "an image-folder archive"
        _refuse_others(options, FOLDER_OPTIONS, f"{src} is {what}, which becomes a CSV")
        return folder_to_csv(src, dst, **{k: v for k, v in options.items() if k in FOLDER_OPTIONS})
    if src_path.is_file():
        _refuse_others(options, CSV_OPTIONS, f"{src} is a CSV, which becomes a folder of images")
        dst_path = Path(dst)
        if dst_path.suffix.lower() in _FILE_SUFFIXES and not dst_path.is_dir():
            raise BadInputError(f"{src} is a CSV, which becomes a folder of images, but {dst} names a "
                                f"file; give a folder (e.g. {dst_path.with_suffix('')}/) as the destination")
        return csv_to_folder(src, dst, **{k: v for k, v in options.items() if k in CSV_OPTIONS})
    raise BadInputError(f"{src}: no such file or folder; give an image folder, a .zip/.tar/.tar.gz of one, "
                        "or a CSV file")


def _ferplus(src, dst, votes, *, mode, label_format, shard):
    from .ferplus import ferplus_csv

    return ferplus_csv(src, votes, dst, mode=mode, label_format=label_format, shard=shard)


def _refuse_others(options, allowed, direction):
    for name, value in options.items():
        if name in allowed:
            continue
        default = {**FOLDER_OPTIONS, **CSV_OPTIONS, **FERPLUS_OPTIONS}[name]
        if value is not None and value != default:
            flag = _FLAGS.get(name, name.replace("_", "-"))
            raise BadInputError(f"option {name}={value!r} (CLI --{flag}) does not apply: {direction}; "
                                "leave it out")


def check_size(size):
    """Refuse an image side length that is not a whole number >= 1."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise BadInputError(f"size must be a whole number of pixels >= 1, not {size!r} (CLI --size)")
    return int(size)


def load_data(data, *, size: int = 48) -> FERDataset:
    """A :class:`FERDataset` from whatever holds the faces: a FERDataset, a CSV (plain, ``.gz``, a
    zip holding one CSV, a URL), an image folder, or an archive (zip/tar) of image folders.

    ``train`` and ``evaluate`` read their data through this, so a Kaggle image folder works as is.

    >>> import tempfile, os, cv2
    >>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/test/happy")
    >>> _ = cv2.imwrite(f"{d}/test/happy/a.png", np.zeros((48, 48), np.uint8))
    >>> ds = load_data(d)
    >>> ds.usage.tolist(), ds.name_of(ds.labels[0])
    (['PrivateTest'], 'happy')
    """
    if isinstance(data, FERDataset):
        return data
    if not str(data).startswith(("http://", "https://")):
        path = Path(data)
        if path.is_dir():
            return read_folder(path, size=size, keep_paths=False)
        if is_archive(path) and any(map(is_image_name, archive_members(path))):
            return read_folder(path, size=size, keep_paths=False)
    return read_csv(data)
