"""metrics.json + report.md + figures, from plain per-fold metric dicts.

The Markdown row follows the paper's Tables 3-4 (accuracy, unweighted F1, MAP@1 = P@1, MAP@R)
and adds the paper-compatible MAP@10 (PML v0.9.97 ``mean_average_precision``, which the paper
printed as "MAP@R") in its own, clearly named column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_write
from galcat.config import json_default
from galcat.evaluate.plots import plot_confusion, plot_reliability, plot_roc
from galcat.evaluate.report_html import write_report_html
from galcat.metrics.classification import row_normalise
from galcat.metrics.summary import PERCENT, format_metric, summarise_folds, summary_text

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


def retrieval_coverage(folds: list[dict]) -> str | None:
    """What the retrieval figures were measured over, when some queries had no same-class
    reference (lone queries have no right answer to retrieve and are left out), else None."""
    used = [int(f.get("retrieval", {}).get("n_queries", 0)) for f in folds]
    lone = [int(f.get("retrieval", {}).get("n_lone", 0)) for f in folds]
    if not any(lone):
        return None
    total = [u + n for u, n in zip(used, lone, strict=True)]
    per = "" if len(folds) == 1 else " (summed over folds)"
    figures = "P@1, MAP@R, R-precision" if sum(used) else "P@1, MAP@R, R-precision are undefined:"
    return (
        f"retrieval: {figures} over {sum(used)} of {sum(total)} queries{per}; {sum(lone)} queries have "
        "no reference of their own class and are left out"
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
    """:func:`~galcat.metrics.summary.summarise_folds` of each fold's :func:`fold_scalars`."""
    return summarise_folds([fold_scalars(f) for f in folds])


def _counts(values: list) -> str:
    if not values:
        return "?"
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _cell(summary: dict, key: str, percent: bool) -> str:
    """``mean ± std`` over folds; just the value for one fold (a std of one value says nothing)."""
    return summary_text(summary, key)


def _value(scalars: dict, key: str, percent: bool) -> str:
    return format_metric(scalars.get(key), percent)


COMBINED_TITLES = {
    "ensemble": "Ensemble of {k} folds (geometric mean of temperature-scaled probabilities, mean embedding)",
    "out-of-fold": "Pooled out-of-fold predictions of {k} folds (each row by the fold that held it out)",
    "single fold": "Fold {folds}",
}


def _combined_markdown(metrics: dict) -> list[str]:
    combined = metrics.get("combined")
    if not combined:
        return []
    k = len(combined["folds"])
    folds = ", ".join(str(f) for f in combined["folds"])
    lines = []
    if combined["kind"] != "single fold":
        lines += [f"## {COMBINED_TITLES[combined['kind']].format(k=k, folds=folds)}", ""]
        scalars = fold_scalars(combined)
        keys = [key for key, _ in SUMMARY_COLUMNS if key in scalars]
        lines += ["| " + " | ".join(title for key, title in SUMMARY_COLUMNS if key in scalars) + " |"]
        lines += ["|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_value(scalars, key, key in PERCENT) for key in keys) + " |", ""]
        lines += [f"- {combined['n_query']} query galaxies"]
        if "n_reference" in combined:
            lines += [f"- {combined['n_reference']} reference galaxies (for retrieval)"]
        unc = combined.get("uncertainty")
        if unc:
            lines += [
                f"- mean normalised entropy {unc['mean_entropy']:.3f}, mean fold agreement "
                f"{unc['mean_agreement']:.3f}; all folds agree on {100 * unc['unanimous_fraction']:.1f} % of "
                f"the galaxies (accuracy there {_maybe(unc['accuracy_unanimous'])}, elsewhere "
                f"{_maybe(unc['accuracy_split'])})"
            ]
        lines.append("")
    cal = combined.get("calibration")
    if cal:
        lines += [f"## Calibration ({cal['n_bins']} equal-width bins; temperature scaling per fold)", ""]
        lines += [
            "| probabilities | ECE | Brier | NLL | accuracy | mean confidence |",
            "|---|---|---|---|---|---|",
        ]
        for name in ("before", "after"):
            m = cal[name]
            lines.append(
                f"| {name} scaling | {m['ece']:.4f} | {m['brier']:.4f} | {m['nll']:.4f} | "
                f"{m['accuracy']:.4f} | {m['mean_confidence']:.4f} |"
            )
        temps = ", ".join(
            f"fold {f}: {t:.3f}" if t else f"fold {f}: none (not calibrated)"
            for f, t in zip(combined["folds"], cal["temperatures"], strict=True)
        )
        lines += ["", f"Temperatures (fitted on each fold's validation split): {temps}.", ""]
        if combined["kind"] != "ensemble" and metrics["folds"][0].get("query_rows", "").startswith(
            "the fold's"
        ):
            lines += [
                "The queries are the folds' validation rows, on which the temperatures were fitted;",
                "evaluate on another store for an out-of-sample calibration figure.",
                "",
            ]
    mistakes = combined.get("mistakes") or []
    if mistakes:
        lines += ["## Most confident mistakes (`errors.png`)", ""]
        lines += ["| row | objid | true | predicted | probability |", "|---|---|---|---|---|"]
        for m in mistakes:
            cells = [m["row"], m.get("objid", ""), m["true"], m["predicted"], f"{m['probability']:.3f}"]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    return lines


def _maybe(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def report_markdown(metrics: dict) -> str:
    """The report text: the paper-layout row, per-fold values, intervals and per-class scores."""
    summary = metrics["summary"]
    lines = [f"# Evaluation of {metrics.get('model', 'model')}", ""]
    folds = metrics["folds"]
    n_query = sorted({f.get("n_query") for f in folds if f.get("n_query") is not None})
    n_ref = sorted({f.get("n_reference") for f in folds if f.get("n_reference") is not None})
    lines += [f"- query: `{metrics.get('query')}`: {_counts(n_query)} galaxies per fold"]
    lines += [f"- reference: {metrics.get('reference')}: {_counts(n_ref)} galaxies per fold"]
    lines += [f"- scheme: {metrics.get('scheme')} ({len(metrics['class_names'])} classes)"]
    coverage = retrieval_coverage(folds)
    if coverage:
        lines += [f"- {coverage}"]
    spread = " (mean ± std over folds)" if len(folds) > 1 else ""
    lines += [f"- folds: {', '.join(str(f['fold']) for f in folds)}{spread}"]
    if metrics.get("unfinished_run"):
        why = "; ".join(metrics["unfinished_run"])
        lines += [f"- **unfinished run**, only the folds named by --fold used: {why}"]
    lines += ['- MAP@R: k = R per query (Musgrave et al. 2020); the paper\'s "MAP@R" was MAP@10 with PML']
    lines += ["  v0.9.97 semantics and is given separately as `map_at_10_v0997`.", ""]
    lines += ["## Summary (layout of the paper's Tables 3-4)", ""]
    head = ["model", "# classes"] + [title for _, title in SUMMARY_COLUMNS]
    row = [str(metrics.get("model")), str(len(metrics["class_names"]))]
    row += [_cell(summary, key, key in PERCENT) for key, _ in SUMMARY_COLUMNS]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(row) + " |", ""]
    lines += ["## Per fold", ""]
    keys = [key for key, _ in SUMMARY_COLUMNS if key in summary]
    lines += [
        "| fold | queries | references | T | " + " | ".join(keys) + " |",
        "|---|---|---|---|" + "---|" * len(keys),
    ]
    for fold in folds:
        scalars = fold_scalars(fold)
        cells = [f"{scalars[k]:.4f}" if k in scalars else "n/a" for k in keys]
        t = f"{fold['temperature']:.3f}" if fold.get("temperature") else "-"
        lines.append(
            f"| {fold['fold']} | {fold.get('n_query', '')} | {fold.get('n_reference', '')} | {t} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    lines += _combined_markdown(metrics)
    intervals = [(f["fold"], f.get("bootstrap") or {}) for f in metrics["folds"] if f.get("bootstrap")]
    if intervals:
        lines += ["## Bootstrap 95% intervals (test queries resampled, model fixed)", ""]
        for fold, ci in intervals:
            text = ", ".join(f"{k} [{lo:.4f}, {hi:.4f}]" for k, (lo, hi) in ci.items())
            lines.append(f"- fold {fold}: {text}")
        lines.append("")
    combined = metrics.get("combined") or {}
    source = combined if combined.get("classification") else (folds[0] if folds else {})
    clf = source.get("classification") or {}
    if clf.get("per_class"):
        which = (
            "fold " + str(folds[0]["fold"])
            if source is not combined or combined["kind"] == "single fold"
            else (combined["kind"])
        )
        lines += [f"## Per class ({which})", ""]
        lines += ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, pc in clf["per_class"].items():
            lines.append(
                f"| {name} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} | {pc['support']} |"
            )
        lines.append("")
    figures = ["`confusion.png` (rows true, columns predicted, summed over folds)", "`roc.png`"]
    if combined.get("calibration"):
        figures.append("`calibration.png` (reliability diagram before and after temperature scaling)")
    if combined.get("mistakes"):
        figures.append("`errors.png` (most confident mistakes)")
    lines += ["Figures: " + ", ".join(figures) + ".", ""]
    return "\n".join(lines)


def write_report(out_dir, metrics: dict) -> dict[str, Path]:
    """Write metrics.json, report.md, report.html (the same with the figures inline), confusion.png,
    roc.png and calibration.png (when the data allow) to out_dir."""
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
    cal = (metrics.get("combined") or {}).get("calibration")
    if cal:
        before = {**cal["reliability_before"], "ece": cal["before"]["ece"]}
        after = {**cal["reliability_after"], "ece": cal["after"]["ece"]}
        kind = metrics["combined"]["kind"]
        paths["calibration"] = plot_reliability(
            before, after, out / "calibration.png", f"{metrics.get('model')}: reliability ({kind})"
        )
    atomic_write(paths["metrics"], json.dumps(metrics, indent=2, default=json_default) + "\n")
    text = report_markdown(metrics)
    atomic_write(paths["report"], text)
    paths["report_html"] = write_report_html(out, text, f"Evaluation of {metrics.get('model', 'model')}")
    return paths
