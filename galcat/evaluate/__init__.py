"""Evaluation of a trained run: metrics per fold, ROC, bootstrap intervals, reports.

``evaluate(EvaluateConfig(...))`` runs a trained model on a labelled store; the metrics
themselves (retrieval, k-NN, classification) live in :mod:`galcat.metrics`. Submodules are
imported on first use so importing this package is cheap.
"""

from galcat._lazy import lazy_dir, lazy_exports

_LAZY = {
    "EvaluateConfig": "galcat.evaluate.api",
    "evaluate": "galcat.evaluate.api",
    "evaluate_arrays": "galcat.evaluate.api",
    "roc_curves": "galcat.evaluate.roc",
    "bootstrap_intervals": "galcat.evaluate.bootstrap",
    "write_report": "galcat.evaluate.report",
    "plot_confusion": "galcat.evaluate.plots",
    "plot_roc": "galcat.evaluate.plots",
}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = list(_LAZY)
