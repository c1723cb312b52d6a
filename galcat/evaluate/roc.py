"""One-vs-rest ROC curves and AUC per class and macro-averaged.

A class with no positives (or no negatives) in the test set has no ROC curve; sklearn's
``roc_auc_score(multi_class='ovr')`` raises in that case, so such classes are skipped, listed
under ``skipped``, and the macro AUC is the mean over the classes that could be scored.
"""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError


def roc_curves(y_true, probs, class_names) -> dict:
    """``{"per_class": {name: {"fpr", "tpr", "auc"}}, "macro_auc", "skipped": [names]}``.

    ``probs`` is (n, C) class scores (softmax probabilities), columns in ``class_names`` order.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    class_names = list(class_names)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(y_true), len(class_names)):
        raise GalcatError(
            f"scores must have shape (n, {len(class_names)}) = ({len(y_true)}, {len(class_names)}), "
            f"got {probs.shape}"
        )
    per_class, skipped = {}, []
    for c, name in enumerate(class_names):
        positive = y_true == c
        if positive.all() or not positive.any():
            skipped.append(name)
            continue
        fpr, tpr, _ = roc_curve(positive, probs[:, c])
        per_class[name] = {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "auc": float(roc_auc_score(positive, probs[:, c])),
        }
    aucs = [v["auc"] for v in per_class.values()]
    return {
        "per_class": per_class,
        "macro_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "skipped": skipped,
    }
