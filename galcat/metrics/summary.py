"""Fold summaries and metric text: one rule for the terminal, summary.json, metrics.json and report.md.

``train`` summarises each fold's best-epoch metrics and ``evaluate``/``probe`` each fold's test
metrics with :func:`summarise_folds`; every output writes a metric with :func:`metric_text`, so a
terminal line and the report show the same figure the same way (accuracy and P@1 in percent).
"""

from __future__ import annotations

import math

import numpy as np

#: metrics written as percentages (the paper's tables); the others with 4 decimals
PERCENT = ("accuracy", "precision_at_1")


def _isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def summarise_folds(rows: list[dict]) -> dict:
    """``{metric: {"mean", "std", "n_folds"}}`` over the metrics of ``rows`` (one row per fold).

    A row's float entries are its metrics (counts and indices are ints). Std with
    ddof=0 (0 for one fold); NaN values are left out, and a metric with no value at all is absent.
    """
    keys = dict.fromkeys(k for row in rows for k, v in row.items() if isinstance(v, (float, np.floating)))
    summary = {}
    for key in keys:
        values = [float(row[key]) for row in rows if key in row and not _isnan(row[key])]
        if values:
            array = np.asarray(values, dtype=np.float64)
            summary[key] = {"mean": float(array.mean()), "std": float(array.std()), "n_folds": len(values)}
    return summary


def format_metric(value, percent: bool, std=None, missing: str = "n/a", unit: bool = True) -> str:
    """One metric as text: 4 decimals, or a percentage with 2 (`` %`` unless ``unit`` is off),
    followed by ``± std`` when a spread is given; ``missing`` for None or NaN."""
    if value is None or _isnan(value):
        return missing
    if percent:
        spread = "" if std is None else f" ± {100 * std:.2f}"
        return f"{100 * value:.2f}{spread}" + (" %" if unit else "")
    return f"{value:.4f}" + ("" if std is None else f" ± {std:.4f}")


def metric_text(key: str, value, std=None, **kwargs) -> str:
    """Metric ``key`` as every galcat output writes it (percent for :data:`PERCENT`)."""
    return format_metric(value, key in PERCENT, std, **kwargs)


def summary_text(summary: dict, key: str, **kwargs) -> str:
    """``mean ± std`` of one :func:`summarise_folds` entry; the mean alone for one fold."""
    if key not in summary:
        return kwargs.get("missing", "n/a")
    entry = summary[key]
    single = entry.get("n_folds", 2) < 2
    return metric_text(key, entry["mean"], None if single else entry["std"], **kwargs)
