"""Metrics core below model/ and evaluate/: the one k-NN, retrieval metrics, classification metrics.

Plain arrays in, numbers out; numpy (plus faiss or torch for k-NN) and nothing above the store.
Submodules load on first use.
"""

from galcat._lazy import lazy_dir, lazy_exports

_LAZY = {
    "knn": "galcat.metrics.knn",
    "KnnIndex": "galcat.metrics.knn",
    "retrieval_metrics": "galcat.metrics.retrieval",
    "per_query_retrieval": "galcat.metrics.retrieval",
    "classification_metrics": "galcat.metrics.classification",
    "accuracy_and_macro_f1": "galcat.metrics.classification",
}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = list(_LAZY)
