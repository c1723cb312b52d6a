"""One result for all evaluated folds: their ensemble, or their pooled out-of-fold predictions.

When every fold predicts the same query rows (another store, or ``--reference``), the run's
predictor pools the folds' temperature-scaled probabilities (:mod:`galcat.model.predictor`) and
the ensemble is scored like one more model. On the run's own store each fold predicts only its
validation rows, which no other fold held out, so an ensemble would score folds on rows they
trained on; the folds' predictions are concatenated instead ("out-of-fold"). Either way the
result carries the calibration before and after temperature scaling and the most confident
mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galcat.evaluate.roc import roc_curves
from galcat.metrics.classification import classification_metrics
from galcat.model.calibration import N_BINS, calibration_measures, reliability_bins

#: Mistakes shown in ``errors.png`` (a 4 x 4 gallery).
N_MISTAKES = 16


@dataclass
class FoldQueries:
    """One fold's predictions for its query rows (row order of ``rows``)."""

    number: int
    path: str  # query store
    rows: np.ndarray  # int64 store rows
    labels: np.ndarray  # true class codes
    embeddings: np.ndarray  # (n, D)
    y_pred: np.ndarray  # predicted class codes
    raw_probs: np.ndarray | None  # (n, C) softmax of the logits
    probs: np.ndarray | None  # (n, C) after temperature scaling
    temperature: float | None


def calibration_block(raw_probs, probs, labels, temperatures) -> dict:
    """ECE (15 bins), Brier, NLL before and after scaling, with both reliability curves."""
    return {
        "n_bins": N_BINS,
        "temperatures": temperatures,
        "before": calibration_measures(raw_probs, labels),
        "after": calibration_measures(probs, labels),
        "reliability_before": reliability_bins(raw_probs, labels),
        "reliability_after": reliability_bins(probs, labels),
    }


def confident_mistakes(rows, labels, y_pred, confidence, class_names, n: int = N_MISTAKES) -> list[dict]:
    """The ``n`` wrong predictions with the highest confidence, most confident first."""
    wrong = np.flatnonzero(np.asarray(y_pred) != np.asarray(labels))
    order = wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")][:n]
    return [
        {
            "row": int(rows[i]),
            "true": class_names[int(labels[i])],
            "predicted": class_names[int(y_pred[i])],
            "probability": float(confidence[i]),
        }
        for i in order
    ]


def pooled_out_of_fold(folds: list[FoldQueries], class_names) -> dict:
    """Every fold's predictions on its own query rows, concatenated."""
    rows = np.concatenate([f.rows for f in folds])
    labels = np.concatenate([f.labels for f in folds])
    y_pred = np.concatenate([f.y_pred for f in folds])
    result = {
        "kind": "out-of-fold",
        "folds": [f.number for f in folds],
        "n_query": int(len(rows)),
        "classification": classification_metrics(labels, y_pred, class_names),
    }
    confidence = np.ones(len(rows))
    if all(f.probs is not None for f in folds):
        probs = np.concatenate([f.probs for f in folds])
        raw = np.concatenate([f.raw_probs for f in folds])
        result["roc"] = roc_curves(labels, probs, class_names)
        result["calibration"] = calibration_block(raw, probs, labels, [f.temperature for f in folds])
        confidence = probs.max(axis=1)
    result["mistakes"] = confident_mistakes(rows, labels, y_pred, confidence, class_names)
    return result


def ensemble_block(folds: list[FoldQueries], prediction, y_pred, class_names) -> dict:
    """Calibration, uncertainty and mistakes of the folds' pooled ``prediction`` (a
    :class:`galcat.model.predictor.Prediction` of the folds' common queries; metrics added by the
    caller)."""
    first = folds[0]
    result = {"kind": "ensemble", "folds": [f.number for f in folds], "n_query": int(len(first.rows))}
    confidence = np.ones(len(first.rows))
    if prediction.probabilities is not None:
        probs, entropy, agreement = prediction.probabilities, prediction.entropy, prediction.agreement
        raw = prediction.raw_probabilities
        result["calibration"] = calibration_block(raw, probs, first.labels, [f.temperature for f in folds])
        unanimous = agreement == 1.0
        correct = y_pred == first.labels
        result["uncertainty"] = {
            "mean_entropy": float(entropy.mean()),
            "mean_agreement": float(agreement.mean()),
            "unanimous_fraction": float(unanimous.mean()),
            "accuracy_unanimous": float(correct[unanimous].mean()) if unanimous.any() else None,
            "accuracy_split": float(correct[~unanimous].mean()) if (~unanimous).any() else None,
        }
        confidence = probs.max(axis=1)
    result["mistakes"] = confident_mistakes(first.rows, first.labels, y_pred, confidence, class_names)
    return result
