"""The per-frame table of a video (time, face, track, box, probabilities), its summary per person,
and the emotion-over-time plot.

The table is written row by row as frames are predicted, so a long video needs no memory for it;
summaries and plots read it back from the CSV.
"""
import csv
from pathlib import Path

import numpy as np

from ..core.errors import BadInputError

#: How one emotion is drawn from many frames: name -> what it does.
AGGREGATIONS = {
    "vote": "the label predicted on the most frames",
    "mean": "the label with the highest mean probability",
}

BOX_COLUMNS = ("x", "y", "w", "h")


def check_aggregation(method: str) -> str:
    """Return ``method`` if it is one of :data:`AGGREGATIONS`, else raise a one-line error."""
    if method not in AGGREGATIONS:
        raise BadInputError(f"aggregate_by must be one of {', '.join(AGGREGATIONS)}, not {method!r}")
    return method


def aggregate_probabilities(probs, label_names, *, method="vote", second_half=False):
    """``(label, {name: score})`` from an (n_frames, n_classes) array of probabilities.

    ``vote``: share of frames on which each label wins; ``mean``: mean
    probability. ``second_half`` keeps only the later half of the frames.

    >>> aggregate_probabilities([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55]], ["sad", "happy"])
    ('happy', {'sad': 0.3333333333333333, 'happy': 0.6666666666666666})
    """
    check_aggregation(method)
    probs = np.asarray(probs, np.float64).reshape(-1, len(label_names))
    if second_half:
        probs = probs[len(probs) // 2:]
    if not len(probs):
        return "", {}
    if method == "vote":
        counts = np.bincount(probs.argmax(1), minlength=len(label_names))
        values = counts / len(probs)
    else:
        values = probs.mean(0)
    scores = {n: float(v) for n, v in zip(label_names, values)}
    return max(scores, key=scores.get), scores


class TableWriter:
    """Append one row per face to ``path`` (CSV), flushed as it goes.

    Columns: frame, time (seconds), face (0 = largest in its frame), track
    (the same person across frames), x, y, w, h, label, score, p_<label>...
    """

    def __init__(self, path, label_names):
        self.path = Path(path)
        self.label_names = list(label_names)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "time", "face", "track", *BOX_COLUMNS, "label", "score",
                            *(f"p_{n}" for n in self.label_names)])

    def write(self, frame, seconds, predictions, tracks):
        """Rows for one frame: its predictions (largest face first) and their track ids."""
        for k, (p, tid) in enumerate(zip(predictions, tracks)):
            probs = [p.probabilities[n] for n in self.label_names]
            self._csv.writerow([frame, f"{seconds:.3f}", k, tid, *p.box, p.label, f"{p.score:.6f}",
                                *(f"{v:.6f}" for v in probs)])
        self._fh.flush()

    def close(self):
        self._fh.close()


def read_table(path):
    """The per-frame table as a DataFrame."""
    import pandas as pd

    return pd.read_csv(path)


def label_names_of(table) -> list:
    return [c[2:] for c in table.columns if c.startswith("p_")]


def summarize(table, *, method="vote", second_half=False, min_frames=1) -> list:
    """One dict per tracked person: track, frames, first/last time, label, scores.

    People seen on fewer than ``min_frames`` frames (detector flickers) are left out;
    the person seen longest comes first.
    """
    names = label_names_of(table)
    people = []
    for tid, rows in table.groupby("track", sort=True):
        if len(rows) < min_frames:
            continue
        label, scores = aggregate_probabilities(rows[[f"p_{n}" for n in names]].to_numpy(), names,
                                                method=method, second_half=second_half)
        people.append({"track": int(tid), "frames": int(len(rows)), "start": float(rows["time"].min()),
                       "end": float(rows["time"].max()), "label": label, "scores": scores})
    return sorted(people, key=lambda p: -p["frames"])


def _thin(times, values, max_points):
    """At most ``max_points`` points: means over equal runs of frames (long videos plot in flat memory)."""
    if len(times) <= max_points:
        return times, values
    bins = np.array_split(np.arange(len(times)), max_points)
    return (np.array([times[b].mean() for b in bins]), np.stack([values[b].mean(0) for b in bins]))


def plot_timeline(table, path, *, max_people=4, min_frames=1, title=None, max_points=1000):
    """Emotion over time: stacked probabilities per person (the people seen longest), as a PNG.

    Frames where a person is not seen are gaps in their band; more than ``max_points``
    frames are averaged in runs, so a long video draws as fast as a short one.
    """
    from ..training.plots import _plt, _save

    plt = _plt()
    names = label_names_of(table)
    people = summarize(table, min_frames=min_frames)[:max_people]
    rows = max(1, len(people))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.2 + 1.9 * rows), squeeze=False, sharex=True)
    colors = plt.get_cmap("tab10").colors
    times = np.sort(table["time"].unique()) if len(table) else np.zeros(0)
    for ax, person in zip(axes[:, 0], people):
        rows_p = table[table["track"] == person["track"]].groupby("time").first()
        probs = np.nan_to_num(rows_p.reindex(times)[[f"p_{n}" for n in names]].to_numpy())  # 0 where unseen
        t, probs = _thin(times, probs, max_points)
        ax.stackplot(t, probs.T, labels=names, colors=colors[:len(names)],
                     alpha=0.9, step="mid")
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(f"person {person['track']}: {person['label']} over {person['frames']} frames "
                     f"({person['start']:.1f}-{person['end']:.1f} s)", fontsize=10)
    if not people:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center")
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
