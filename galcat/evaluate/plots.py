"""Figures from plain arrays: confusion heatmap, ROC curves, reliability diagram, mistake gallery.

They take arrays and class names only (no model, no store), so reports can be redrawn from
``metrics.json`` and the figures can be tested on their own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    confusion_normalized,
    class_names,
    path,
    title: str = "Confusion matrix",
    counts=None,
    axis_labels: tuple[str, str] = ("true class", "predicted class"),
) -> Path:
    """Row-normalised confusion heatmap (rows true, columns predicted), each cell annotated in %.

    With ``counts`` the row totals are added to the y tick labels (n per true class);
    ``axis_labels`` names (rows, columns), e.g. two label sets compared by ``galcat audit``.
    """
    plt = _pyplot()
    mat = np.asarray(confusion_normalized, dtype=np.float64)
    names = list(class_names)
    n = len(names)
    rows = names
    if counts is not None:
        totals = np.asarray(counts).sum(axis=1)
        rows = [f"{name} (n={int(t)})" for name, t in zip(names, totals, strict=True)]
    size = max(5.0, 0.62 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.6, size), dpi=130, layout="constrained")
    image = ax.imshow(mat, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            value = mat[i, j]
            ax.text(
                j,
                i,
                f"{100 * value:.0f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if value > 0.55 else "black",
            )
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), rows)
    ax.set_xlabel(axis_labels[1])
    ax.set_ylabel(axis_labels[0])
    ax.set_title(f"{title}\n(% of each row: {axis_labels[0]}; rows sum to 100)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"fraction of row ({axis_labels[0]})")
    return _save(fig, path)


def plot_roc(roc: dict, path, title: str = "ROC (one vs rest)") -> Path:
    """Per-class ROC curves with AUC in the legend, the chance diagonal and the macro AUC."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=130, layout="constrained")
    cmap = plt.get_cmap("tab20" if len(roc["per_class"]) > 10 else "tab10")
    for i, (name, curve) in enumerate(roc["per_class"].items()):
        ax.plot(curve["fpr"], curve["tpr"], lw=1.6, color=cmap(i), label=f"{name} (AUC {curve['auc']:.2f})")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    subtitle = f"macro AUC {roc['macro_auc']:.3f}"
    if roc.get("skipped"):
        subtitle += f"; no positives: {', '.join(roc['skipped'])}"
    ax.set_title(f"{title}\n{subtitle}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_reliability(before: dict, after: dict, path, title: str = "Reliability", labels=None) -> Path:
    """Reliability diagram: accuracy against mean confidence per bin, before and after scaling,
    the diagonal of perfect calibration, and the share of rows per bin underneath.

    ``before`` / ``after`` are :func:`galcat.model.calibration.reliability_bins` dicts plus
    an ``ece`` key used in the legend.
    """
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(5.6, 6.4), dpi=130, layout="constrained", sharex=True, height_ratios=(3, 1)
    )
    edges = np.asarray(before["edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    names = labels or ("before scaling", "after scaling")
    for bins, name, colour, marker in (
        (before, names[0], "tab:red", "s"),
        (after, names[1], "tab:blue", "o"),
    ):
        conf, acc = np.asarray(bins["confidence"], float), np.asarray(bins["accuracy"], float)
        keep = np.asarray(bins["count"]) > 0
        ax.plot(
            conf[keep],
            acc[keep],
            marker=marker,
            lw=1.6,
            color=colour,
            label=f"{name} (ECE {bins['ece']:.3f})",
        )
        share = np.asarray(bins["count"], float) / max(1, int(np.sum(bins["count"])))
        offset = -width / 4 if colour == "tab:red" else width / 4
        hist.bar(centres + offset, share, width=width / 2, color=colour, alpha=0.7)
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_ylabel("accuracy in bin")
    ax.set_title(f"{title}\n{len(centres)} equal-width confidence bins", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    hist.set_xlabel("confidence (top class probability)")
    hist.set_ylabel("share of rows")
    return _save(fig, path)


def plot_mistakes(images, captions, path, title: str = "Most confident mistakes", columns: int = 4) -> Path:
    """A gallery of uint8 (n, H, W, 3) images, each with its caption (true/predicted class)."""
    plt = _pyplot()
    n = len(images)
    cols = max(1, min(columns, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.75 * rows), dpi=130, layout="constrained")
    for ax in np.asarray(axes).ravel():
        ax.axis("off")
    for ax, image, caption in zip(np.asarray(axes).ravel(), images, captions, strict=False):
        ax.imshow(np.asarray(image))
        ax.set_title(caption, fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
