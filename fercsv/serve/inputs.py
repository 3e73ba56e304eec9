"""What a batch prediction reads and reports: inputs expanded to files, and the report.

Folders are walked, globs expanded, missing inputs listed; :class:`BatchReport`
says what a batch job did. Shared by the folder output and the face-table engines.
"""
from __future__ import annotations

import glob
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.errors import BadInputError
from ..vision.images import IMAGE_EXTENSIONS

#: File suffixes treated as videos by batch prediction.
VIDEO_EXTENSIONS = frozenset(".mp4 .avi .mov .mkv .webm .m4v .mpg .mpeg".split())


@dataclass
class BatchReport:
    """What :func:`predict_paths` did: files predicted, faces found, files skipped and why."""

    out_dir: str
    predicted: int = 0
    faces: int = 0
    resumed: int = 0
    no_face: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    videos: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    rows: list = field(default_factory=list, repr=False)
    engine: str = "local"
    shard: str = ""

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "rows"}

    def __str__(self):
        lines = [f"predicted {self.predicted} files ({self.faces} faces"
                 f"{f', {len(self.no_face)} without a face' if self.no_face else ''}"
                 f"{f', {len(self.videos)} videos' if self.videos else ''})"
                 + (f" on {self.engine}" if self.engine != "local" else "")
                 + (f", shard {self.shard}" if self.shard else "")
                 + (f"; {self.resumed} already done before this run" if self.resumed else "")]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable inputs:")
            lines += [f"  {k}: {v}" for k, v in self.skipped.items()]
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _static_root(pattern):
    parts = Path(pattern).parts
    root = [p for p in parts[:next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]]
    return Path(*root) if root else Path(".")


def _folder_files(folder):
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    return [f for f in sorted(Path(folder).rglob("*")) if f.is_file() and f.suffix.lower() in wanted
            and not any(part.startswith(".") for part in f.relative_to(folder).parts)]


def expand_inputs(inputs):
    """``(files, missing)``: each input file with the relative path its outputs mirror, in order.

    Folders are walked recursively (image and video files); globs are expanded
    (``**`` included); missing inputs are returned with a reason instead of raising.
    """
    found, missing, seen = [], {}, set()

    def add(path, rel):
        key = Path(path).resolve()
        if key not in seen:
            seen.add(key)
            found.append((Path(path), Path(rel)))

    for text in map(str, inputs):
        path = Path(text)
        if path.is_dir():
            for f in _folder_files(path):
                add(f, Path(path.resolve().name) / f.relative_to(path))
        elif path.is_file():
            add(path, path.name)
        elif glob.has_magic(text):
            root = _static_root(text)
            matches = sorted(glob.glob(text, recursive=True))
            for m in matches:
                m = Path(m)
                for f in (_folder_files(m) if m.is_dir() else [m]):
                    add(f, f.relative_to(root) if f.is_relative_to(root) else f.name)
            if not matches:
                missing[text] = "no file matches this pattern"
        else:
            missing[text] = "no such file or folder"
    return found, missing


def input_files(inputs):
    """:func:`expand_inputs`, or a one-line error when there is nothing to predict."""
    if not inputs:
        raise BadInputError("predict: give at least one image, folder, glob or video")
    files, missing = expand_inputs(inputs)
    if not files:
        raise BadInputError("predict: no images or videos found in " + ", ".join(map(str, inputs)) +
                            (f" ({'; '.join(f'{k}: {v}' for k, v in missing.items())})" if missing else ""))
    return files, missing



#: CLI flags of :func:`predict_paths` options whose flag is not the option's name.
CLI_FLAGS = {"aggregate_by": "--aggregate", "plot": "--no-plot", "out_dir": "--out"}


def cli_names(names):
    """``"a_b (CLI --a-b), ..."`` for option names, in order.

    >>> cli_names(["plot", "every"])
    'every (CLI --every), plot (CLI --no-plot)'
    """
    return ", ".join(f"{k} (CLI {CLI_FLAGS.get(k, '--' + k.replace('_', '-'))})" for k in sorted(names))
