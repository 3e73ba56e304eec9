"""Figures: training curves, normalised confusion matrix, a grid of sample faces per class, sweep scores.

matplotlib is imported inside each function with the non-interactive Agg
backend when no notebook backend is active, so plots work headless.
"""
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import require


def _plt():
    matplotlib = require("matplotlib", extra="train", feature="plots")
    if "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    _plt().close(fig)
    return path


def plot_curves(history, path):
    """Accuracy and loss, train vs validation, from a history table (dict of lists or DataFrame)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.asarray(history["epoch"]) + 1
    for ax, key in zip(axes, ("accuracy", "loss")):
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_confusion(matrix, label_names, path, *, title="confusion (rows: true, normalised)"):
    """A row-normalised confusion matrix with label names and cell percentages."""
    plt = _plt()
    m = np.asarray(matrix, float)
    n = len(label_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), label_names, rotation=45, ha="right")
    ax.set_yticks(range(n), label_names)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{m[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def plot_samples(dataset, path=None, *, per_class=8, seed=0):
    """A grid of random faces, one row per label; saved to ``path`` or returned as a figure."""
    plt = _plt()
    rng = np.random.default_rng(seed)
    codes = [c for c in range(len(dataset.label_names)) if (dataset.labels == c).any()]
    fig, axes = plt.subplots(len(codes), per_class, figsize=(per_class * 0.9, len(codes) * 1.0),
                             squeeze=False)
    for r, code in enumerate(codes):
        rows = rng.permutation(np.flatnonzero(dataset.labels == code))[:per_class]
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(rows):
                ax.imshow(dataset.images[rows[c]], cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_title(dataset.label_names[code], fontsize=8, loc="left")
    if path is None:
        return fig
    return _save(fig, path)


def plot_sweep(rows, grid, path, *, value="best_publictest", label="best PublicTest"):
    """A sweep's scores: a heatmap over its first two varied settings (each cell the best over any
    others), bars over one. ``rows`` are dicts holding each setting as text and ``value``;
    ``grid`` maps each setting to its values (as text) in the order to draw them.
    """
    plt = _plt()
    axes = [k for k, v in grid.items() if len(v) > 1] or list(grid)[:1]
    rest = axes[2:]
    title = f"{label}" + (f" (best over {', '.join(rest)})" if rest else "")

    def score(match):
        found = [r[value] for r in rows if all(str(r[k]) == v for k, v in match.items())
                 and r.get(value) is not None and r[value] == r[value]]
        return max(found) if found else np.nan

    if len(axes) >= 2:
        ys, xs = grid[axes[0]], grid[axes[1]]
        m = np.array([[score({axes[0]: y, axes[1]: x}) for x in xs] for y in ys], float)
        fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(xs), 1.2 + 0.8 * len(ys)))
        image = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, format=lambda v, _: f"{v:.1%}")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set_xlabel(axes[1])
        ax.set_ylabel(axes[0])
        finite = m[np.isfinite(m)]
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0
        for i in range(len(ys)):
            for j in range(len(xs)):
                ax.text(j, i, "not done" if np.isnan(m[i, j]) else f"{m[i, j]:.1%}", ha="center", va="center",
                        fontsize=9, color="black" if m[i, j] >= middle else "white")
    else:
        xs = grid[axes[0]]
        heights = [score({axes[0]: x}) for x in xs]
        fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(xs), 3.2))
        bars = ax.bar(range(len(xs)), np.nan_to_num(heights), color="tab:blue")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(axes[0])
        ax.set_ylabel(label)
        ax.set_ylim(0, 1)
        for bar, h in zip(bars, heights):
            ax.text(bar.get_x() + bar.get_width() / 2, (0 if np.isnan(h) else h) + 0.01,
                    "not done" if np.isnan(h) else f"{h:.1%}", ha="center", va="bottom", fontsize=9)
    ax.set_title(title)
    return _save(fig, path)
