"""``curves.png`` of a run: training and validation loss and the selection metric, per epoch and fold.

Why: whether a run under- or over-fits, and whether the chosen epoch is a peak or noise, shows at
a glance in the curves and is hidden in the summary's single best-epoch numbers. Drawn from the
folds' ``metrics.jsonl`` with matplotlib's object API (no pyplot state, no display needed).
"""

from __future__ import annotations

import json
from pathlib import Path

from galcat.model.config import SELECT_BY


def read_logs(run_dir: Path) -> dict[int, list[dict]]:
    """fold number -> that fold's epoch records, in epoch order."""
    logs = {}
    for path in sorted(Path(run_dir).glob("fold*/metrics.jsonl")):
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if records:
            logs[int(records[0]["fold"])] = sorted(records, key=lambda r: r["epoch"])
    return logs


def write_curves(run_dir, select_by: str, best_epochs: dict[int, int] | None = None) -> Path | None:
    """Draw ``run_dir/curves.png``; the best epoch of each fold is ringed. None when nothing is logged."""
    from matplotlib.figure import Figure

    logs = read_logs(Path(run_dir))
    if not logs:
        return None
    fig = Figure(figsize=(11, 4), dpi=110, layout="constrained")
    ax_loss, ax_metric = fig.subplots(1, 2)
    for k, records in sorted(logs.items()):
        colour = f"C{k % 10}"
        epochs = [r["epoch"] + 1 for r in records]
        for key, style, what in (("train_loss", "-", "train"), ("val_loss", "--", "validation")):
            ax_loss.plot(
                epochs,
                [r.get(key, float("nan")) for r in records],
                style,
                color=colour,
                marker=".",
                label=f"fold {k} {what}",
            )
        values = [r.get(select_by, float("nan")) for r in records]
        ax_metric.plot(epochs, values, "-", color=colour, marker="o", label=f"fold {k}")
        best = (best_epochs or {}).get(k)
        if best is not None and 0 <= best < len(records):
            ax_metric.plot([best + 1], [values[best]], "o", ms=13, mfc="none", mec=colour)
    better = "higher" if SELECT_BY.get(select_by, True) else "lower"
    ax_loss.set(xlabel="epoch", ylabel="loss", title="training and validation loss")
    ax_metric.set(
        xlabel="epoch",
        ylabel=select_by,
        title=f"selection metric: {select_by} ({better} is better; ring = chosen epoch)",
    )
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path = Path(run_dir) / "curves.png"
    fig.savefig(path)
    return path
