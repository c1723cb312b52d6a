"""A ``galcat evaluate`` output folder as explorer data: metrics, reliability figure, mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from galcat.errors import GalcatError, where
from galcat.evaluate.report import PERCENT, SUMMARY_COLUMNS, fold_scalars, format_metric

#: figures of the report copied into the site (when the evaluation drew them)
FIGURES = ("calibration.png", "confusion.png", "roc.png", "errors.png")


def read_report(report_dir, site: Path) -> dict:
    """The report's headline metrics, calibration, mistakes and copied figures (``report/``)."""
    folder = Path(report_dir)
    path = folder / "metrics.json"
    if not path.is_file():
        raise GalcatError(f"{where(path)}not found; --report takes a `galcat evaluate --out` folder")
    try:
        metrics = json.loads(path.read_text())
    except ValueError as exc:
        raise GalcatError(f"{where(path)}not valid JSON ({exc})") from None
    combined = metrics.get("combined") or {}
    scalars = fold_scalars(combined) if combined.get("classification") else {}
    summary = metrics.get("summary") or {}
    rows = []
    for key, title in SUMMARY_COLUMNS:
        if key in scalars:
            rows.append([title, format_metric(scalars[key], key in PERCENT)])
        elif key in summary:
            rows.append([title, format_metric(summary[key]["mean"], key in PERCENT)])
    calibration = combined.get("calibration") or {}
    for name in ("before", "after"):
        if name in calibration:
            rows.append([f"ECE {name} temperature scaling", format_metric(calibration[name]["ece"], False)])
    figures = {}
    for name in FIGURES:
        if (folder / name).is_file():
            (site / "report").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, site / "report" / name)
            figures[name.removesuffix(".png")] = f"report/{name}"
    mistakes = [
        {k: m.get(k) for k in ("objid", "true", "predicted", "probability", "row")}
        for m in combined.get("mistakes") or []
    ]
    return {
        "model": str(metrics.get("model", "")),
        "query": str(metrics.get("query", "")),
        "kind": str(combined.get("kind", "")),
        "n_query": combined.get("n_query"),
        "metrics": rows,
        "figures": figures,
        "mistakes": mistakes,
        "has_report_html": (folder / "report.html").is_file(),
    }
