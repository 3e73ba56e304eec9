"""Figures: training curves, normalised confusion matrix, and a grid of sample faces per class.

matplotlib is imported inside each function with the non-interactive Agg
backend when no notebook backend is active, so plots work headless.
"""
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import require


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
