"""Percentile bootstrap confidence intervals over test queries.

Queries are resampled with replacement; the reference set (the model and its training
embeddings) is held fixed, so the intervals express test-set sampling noise only, not
training variation (which the mean +- std over folds shows).
"""

from __future__ import annotations

import numpy as np

from galcat.metrics.classification import confusion_counts, macro_f1_from_counts
from galcat.metrics.retrieval import METRIC_KEYS


def bootstrap_intervals(
    y_true=None,
    y_pred=None,
    n_classes: int | None = None,
    retrieval_values=None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """``{metric: [low, high]}`` for accuracy, macro_f1 and the retrieval metrics.

    ``retrieval_values`` is the (n, 4) per-query array of
    :func:`galcat.metrics.retrieval.per_query_retrieval` (NaN rows = excluded lone queries).
    """
    if n_boot <= 0:
        return {}
    rng = np.random.default_rng(seed)
    alpha = (1.0 - level) / 2.0
    samples: dict[str, list[float]] = {}
    if y_true is not None and y_pred is not None and len(y_true):
        y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
        n_classes = n_classes or int(max(y_true.max(), y_pred.max()) + 1)
        correct = (y_true == y_pred).astype(np.float64)
        acc, f1 = [], []
        for _ in range(n_boot):
            idx = rng.integers(0, len(y_true), len(y_true))
            acc.append(correct[idx].mean())
            f1.append(macro_f1_from_counts(confusion_counts(y_true[idx], y_pred[idx], n_classes)))
        samples["accuracy"], samples["macro_f1"] = acc, f1
    if retrieval_values is not None:
        values = np.asarray(retrieval_values, dtype=np.float64)
        values = values[~np.isnan(values).any(axis=1)]
        if len(values):
            means = np.stack(
                [values[rng.integers(0, len(values), len(values))].mean(axis=0) for _ in range(n_boot)]
            )
            for j, key in enumerate(METRIC_KEYS):
                samples[key] = means[:, j].tolist()
    return {
        key: [float(np.quantile(v, alpha)), float(np.quantile(v, 1.0 - alpha))] for key, v in samples.items()
    }
