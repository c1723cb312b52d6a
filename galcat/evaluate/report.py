"""metrics.json + report.md + figures, from plain per-fold metric dicts.

The Markdown row follows the paper's Tables 3-4 (accuracy, unweighted F1, MAP@1 = P@1, MAP@R)
and adds the paper-compatible MAP@10 (PML v0.9.97 ``mean_average_precision``, which the paper
printed as "MAP@R") in its own, clearly named column.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_write
from galcat.config import json_default
from galcat.evaluate.plots import plot_confusion, plot_roc
from galcat.metrics.classification import row_normalise

#: (key, column title) of the summary table, in the paper's order.
SUMMARY_COLUMNS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "unweighted F1"),
    ("precision_at_1", "MAP@1 (P@1)"),
    ("map_at_r", "MAP@R"),
    ("map_at_10_v0997", 'MAP@10 v0.9.97 (paper\'s "MAP@R")'),
    ("r_precision", "R-precision"),
    ("macro_auc", "macro AUC"),
)


def fold_scalars(fold: dict) -> dict:
    """The scalar metrics of one fold (classification, retrieval, ROC) in one flat dict."""
    out = {}
    clf = fold.get("classification") or {}
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        if key in clf:
            out[key] = clf[key]
    out.update({k: v for k, v in (fold.get("retrieval") or {}).items() if not k.startswith("n_")})
    if fold.get("roc"):
        out["macro_auc"] = fold["roc"]["macro_auc"]
    return out


def summarize_folds(folds: list[dict]) -> dict:
    """``{metric: {"mean", "std", "n_folds"}}`` over folds (std with ddof=0; 0 for one fold)."""
    scalars = [fold_scalars(f) for f in folds]
    keys = [k for k in dict.fromkeys(k for s in scalars for k in s)]
    summary = {}
    for key in keys:
        values = np.array([s[key] for s in scalars if key in s and not _isnan(s[key])], dtype=np.float64)
        if len(values):
            summary[key] = {"mean": float(values.mean()), "std": float(values.std()), "n_folds": len(values)}
    return summary


def _isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _cell(summary: dict, key: str, percent: bool) -> str:
    if key not in summary:
        return "n/a"
    mean, std = summary[key]["mean"], summary[key]["std"]
    if percent:
        return f"{100 * mean:.2f} ± {100 * std:.2f} %"
    return f"{mean:.4f} ± {std:.4f}"


def report_markdown(metrics: dict) -> str:
    """The report text: the paper-layout row, per-fold values, intervals and per-class scores."""
    summary = metrics["summary"]
    lines = [f"# Evaluation of {metrics.get('model', 'model')}", ""]
    lines += [f"- query: `{metrics.get('query')}`", f"- reference: {metrics.get('reference')}"]
    lines += [f"- scheme: {metrics.get('scheme')} ({len(metrics['class_names'])} classes)"]
    lines += [f"- folds: {', '.join(str(f['fold']) for f in metrics['folds'])} (mean ± std over folds)"]
    lines += ['- MAP@R: k = R per query (Musgrave et al. 2020); the paper\'s "MAP@R" was MAP@10 with PML']
    lines += ["  v0.9.97 semantics and is given separately as `map_at_10_v0997`.", ""]
    lines += ["## Summary (layout of the paper's Tables 3-4)", ""]
    head = ["model", "# classes"] + [title for _, title in SUMMARY_COLUMNS]
    row = [str(metrics.get("model")), str(len(metrics["class_names"]))]
    row += [_cell(summary, key, key == "accuracy" or key == "precision_at_1") for key, _ in SUMMARY_COLUMNS]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(row) + " |", ""]
    lines += ["## Per fold", ""]
    keys = [key for key, _ in SUMMARY_COLUMNS if key in summary]
    lines += ["| fold | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for fold in metrics["folds"]:
        scalars = fold_scalars(fold)
        cells = [f"{scalars[k]:.4f}" if k in scalars else "n/a" for k in keys]
        lines.append(f"| {fold['fold']} | " + " | ".join(cells) + " |")
    lines.append("")
    intervals = [(f["fold"], f.get("bootstrap") or {}) for f in metrics["folds"] if f.get("bootstrap")]
    if intervals:
        lines += ["## Bootstrap 95% intervals (test queries resampled, model fixed)", ""]
        for fold, ci in intervals:
            text = ", ".join(f"{k} [{lo:.4f}, {hi:.4f}]" for k, (lo, hi) in ci.items())
            lines.append(f"- fold {fold}: {text}")
        lines.append("")
    clf = (metrics["folds"][0].get("classification") or {}) if metrics["folds"] else {}
    if clf.get("per_class"):
        lines += [f"## Per class (fold {metrics['folds'][0]['fold']})", ""]
        lines += ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, pc in clf["per_class"].items():
            lines.append(
                f"| {name} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} | {pc['support']} |"
            )
        lines.append("")
    lines += ["Figures: `confusion.png` (rows true, columns predicted, summed over folds), `roc.png`.", ""]
    return "\n".join(lines)


def write_report(out_dir, metrics: dict) -> dict[str, Path]:
    """Write metrics.json, report.md, confusion.png and roc.png (when the data allow) to out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "report": out / "report.md"}
    names = metrics["class_names"]
    confusions = [f["classification"]["confusion"] for f in metrics["folds"] if f.get("classification")]
    if confusions:
        pooled = np.sum(np.asarray(confusions), axis=0)
        paths["confusion"] = plot_confusion(
            row_normalise(pooled), names, out / "confusion.png", f"{metrics.get('model')}", counts=pooled
        )
    rocs = [f["roc"] for f in metrics["folds"] if f.get("roc") and f["roc"]["per_class"]]
    if rocs:
        paths["roc"] = plot_roc(rocs[0], out / "roc.png", f"{metrics.get('model')}: ROC (one vs rest)")
    atomic_write(paths["metrics"], json.dumps(metrics, indent=2, default=json_default) + "\n")
    atomic_write(paths["report"], report_markdown(metrics))
    return paths
