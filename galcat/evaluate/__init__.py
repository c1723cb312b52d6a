"""Evaluation: retrieval engine (blockwise MAP@R), classification metrics, ROC, bootstrap, reports.

``evaluate(EvaluateConfig(...))`` runs a trained model on a labelled store; the metric functions
work on plain arrays. Submodules are imported on first use so importing this package is cheap
(the retrieval engine itself needs only numpy, plus faiss or torch for :func:`knn`).
"""

from galcat._lazy import lazy_exports

_LAZY = {
    "EvaluateConfig": "galcat.evaluate.api",
    "evaluate": "galcat.evaluate.api",
    "evaluate_arrays": "galcat.evaluate.api",
    "knn": "galcat.evaluate.retrieval",
    "retrieval_metrics": "galcat.evaluate.retrieval",
    "per_query_retrieval": "galcat.evaluate.retrieval",
    "classification_metrics": "galcat.evaluate.classification",
    "roc_curves": "galcat.evaluate.roc",
    "bootstrap_intervals": "galcat.evaluate.bootstrap",
    "write_report": "galcat.evaluate.report",
    "plot_confusion": "galcat.evaluate.plots",
    "plot_roc": "galcat.evaluate.plots",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = list(_LAZY)
