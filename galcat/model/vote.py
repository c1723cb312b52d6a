"""Class logits of DML models: a distance-weighted vote of the k nearest training references.

A DML model learns distances, not classes, so a galaxy's class is read from its neighbours in the
metric space (``--predictor knn``, the default of every DML loss; the only one of contrastive and
triplet): each of the k nearest training embeddings votes for its label
with weight ``1 / distance`` (scikit-learn's ``weights="distance"``). The vote shares, mixed with
a uniform prior of weight ``PRIOR`` so that no class has probability 0, are the probabilities;
their logarithms are the logits (``softmax(log p) = p``), which temperature scaling can rescale.
"""

from __future__ import annotations

import numpy as np

#: weight of the uniform prior mixed into the vote shares (keeps every log-probability finite)
PRIOR = 1e-3
#: added to distances so that an exact duplicate gets a large, finite weight
DISTANCE_FLOOR = 1e-6


def vote_probabilities(neighbour_distances, neighbour_labels, n_classes: int) -> np.ndarray:
    """(n, C) class probabilities from the (n, k) distances and labels of each query's neighbours."""
    dist = np.asarray(neighbour_distances, dtype=np.float64)
    labels = np.asarray(neighbour_labels, dtype=np.int64)
    weights = 1.0 / (dist + DISTANCE_FLOOR)
    votes = np.zeros((dist.shape[0], n_classes))
    np.add.at(votes, (np.repeat(np.arange(dist.shape[0]), dist.shape[1]), labels.ravel()), weights.ravel())
    shares = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-300)
    return (1.0 - PRIOR) * shares + PRIOR / n_classes


def knn_vote(
    embeddings, reference, reference_labels, n_classes: int, k: int, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 (n, C) log vote probabilities of ``embeddings`` against the labelled ``reference``,
    with the (n, k) distances and reference positions of the voters, nearest first.

    Distances are those of the training loss (L2 on unit vectors). ``exclude_self``: the queries
    are the reference itself (leave-one-out).
    """
    from galcat.metrics.knn import knn

    reference_labels = np.asarray(reference_labels, dtype=np.int64)
    k = max(1, min(int(k), len(reference_labels) - int(exclude_self)))
    dist, idx = knn(embeddings, reference, k, exclude_self=exclude_self, normalize=True)
    probs = vote_probabilities(dist, reference_labels[idx], n_classes)
    return np.log(probs).astype(np.float32), dist, idx


def knn_vote_logits(
    embeddings, reference, reference_labels, n_classes: int, k: int, exclude_self: bool = False
) -> np.ndarray:
    """The log vote probabilities of :func:`knn_vote` alone."""
    return knn_vote(embeddings, reference, reference_labels, n_classes, k, exclude_self)[0]
