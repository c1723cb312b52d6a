"""Classification metrics in the paper's layout, with the paper code's argument swap fixed.

The one definition of accuracy, macro F1 and per-class metrics, used by validation during
training, by the evaluator and by its bootstrap. Labels are integer codes into the class list
(the scheme's order, e.g. HUBBLE9), so classes absent from a test set still count (``labels=``
is always passed to sklearn). ``y_true`` always comes first: the paper's code passed predictions
as ``y_true``, which leaves macro F1 unchanged but swaps per-class precision and recall.
"""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError


def _codes(y, n_classes: int, name: str) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise GalcatError(f"{name}: class codes must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    return y.astype(np.int64)


def confusion_counts(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts (rows true, columns predicted), fast enough to call inside a bootstrap."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def row_normalise(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total (a true class with no samples stays all zero)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)


def macro_f1_from_counts(counts: np.ndarray) -> float:
    """Unweighted mean of per-class F1 = 2TP / (2TP + FP + FN), 0 where undefined (zero_division=0)."""
    tp = np.diag(counts).astype(np.float64)
    denom = 2 * tp + (counts.sum(axis=0) - tp) + (counts.sum(axis=1) - tp)
    return float(np.mean(np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)))


def accuracy_and_macro_f1(y_true, y_pred, n_classes: int) -> dict:
    """``{"accuracy", "macro_f1"}`` over all ``n_classes`` codes (absent classes score F1 = 0)."""
    y_true = _codes(y_true, n_classes, "y_true")
    y_pred = _codes(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise GalcatError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise GalcatError("no labelled samples to evaluate")
    counts = confusion_counts(y_true, y_pred, n_classes)
    return {"accuracy": float(np.trace(counts) / len(y_true)), "macro_f1": macro_f1_from_counts(counts)}


def classification_metrics(y_true, y_pred, class_names) -> dict:
    """Accuracy, macro ("unweighted") and weighted F1, per-class P/R/F1 and the confusion matrix.

    Returns plain JSON-able data: ``confusion`` (counts) and ``confusion_normalized`` (rows =
    true class, columns = predicted, each row sums to 1: the layout of the paper's Tables 5-9).
    """
    from sklearn.metrics import precision_recall_fscore_support

    class_names = list(class_names)
    n = len(class_names)
    headline = accuracy_and_macro_f1(y_true, y_pred, n)
    y_true, y_pred = _codes(y_true, n, "y_true"), _codes(y_pred, n, "y_pred")
    labels = list(range(n))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    counts = confusion_counts(y_true, y_pred, n)
    return {
        "n": int(len(y_true)),
        **headline,
        "weighted_f1": float(np.sum(f1 * support) / np.sum(support)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "class_names": class_names,
        "confusion": counts.tolist(),
        "confusion_normalized": row_normalise(counts).tolist(),
    }
