"""Class prototypes in the metric space: centroids for the proxies, the k-NN reference of a run.

Why centroids: a proxy loss leaves each proxy near, not at, its class in the embedding; the unit
mean of a class's training embeddings is the point that a nearest-prototype rule should use (on
galcat's synthetic demo the learned proxies sit at cosine 0.96-0.98 from the centroids and
classify 8 points worse than the centroids). With ``predictor="centroid"`` the network's ``proxy``
predictor holds the centroids of the current weights, refreshed every epoch; the loss keeps
training its own proxies. The default ``knn`` predictor uses the saved reference instead: one
centroid a class cannot follow a class that is several clusters in the embedding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from galcat.model.checkpoint import safe_load, save_checkpoint
from galcat.model.config import TrainConfig
from galcat.model.data import TrainingData
from galcat.model.predictor import Predictor

#: training images per class that estimate a centroid each epoch (all of them for smaller classes)
CENTROID_IMAGES_PER_CLASS = 512


def _embed_rows(model, cfg: TrainConfig, data: TrainingData, rows, device) -> tuple[np.ndarray, np.ndarray]:
    """(L2-normalised embeddings, labels) of store ``rows`` (in that order), current weights."""
    predictor = Predictor([(0, model)], batch_size=cfg.batch_size, device=device)
    raw = predictor.predict_store(data.store_path, rows).fold_embeddings[0]
    emb = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
    return emb.astype(np.float32), data.labels[np.searchsorted(data.rows, rows)]


def class_centroids(model, cfg: TrainConfig, data: TrainingData, train_rows, device) -> torch.Tensor:
    """Unit class means of the initial model's training embeddings: the proxies' starting points.

    Why: proxies drawn at random pull a pre-trained embedding towards arbitrary directions for the
    first epochs; starting at the class centroids keeps the structure the earlier stage learnt
    (and makes the first nearest-proxy predictions those of a nearest-centroid classifier).
    """
    emb, labels = _embed_rows(model, cfg, data, train_rows, device)
    centroids = np.zeros((len(data.class_names), emb.shape[1]), dtype=np.float32)
    for c in np.unique(labels):
        centroids[c] = emb[labels == c].mean(axis=0)
    return torch.from_numpy(centroids)


def save_reference(model, cfg: TrainConfig, data: TrainingData, train_rows, fold_dir: Path, device) -> Path:
    """``fold{k}/reference.pt``: the best epoch's training embeddings and labels for k-NN votes.

    Plain tensors, loadable with ``weights_only=True``; ``load_run`` attaches them to the network.
    """
    model.load_state_dict(safe_load(fold_dir / "best.pt")["state_dict"])
    emb, labels = _embed_rows(model, cfg, data, train_rows, device)
    payload = {
        "embeddings": torch.from_numpy(emb),
        "labels": torch.from_numpy(labels.astype(np.int64)),
        "rows": torch.as_tensor(np.asarray(train_rows), dtype=torch.int64),
        "store_fingerprint": data.fingerprint,
    }
    return save_checkpoint(payload, fold_dir / "reference.pt")


def centroid_rows(rows: np.ndarray, labels: np.ndarray, per_class: int, seed) -> np.ndarray:
    """Up to ``per_class`` seeded rows of each class (sorted), so big classes cost a bounded pass."""
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(rows[labels == c], size=min(per_class, int((labels == c).sum())), replace=False)
        for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(keep)) if keep else rows[:0]


def anchor_to_centroids(
    model, cfg: TrainConfig, data: TrainingData, train_rows, device, seed, loss_view
) -> None:
    """Set the network's ``proxy`` predictor to the class centroids of its current embedding.

    ``loss_view`` is the loss's ``(proxies, scale)`` (:func:`galcat.model.losses.proxy_view`): the
    similarity scale stays the loss's, so probabilities keep its sharpness, and a class without
    training rows keeps the loss's proxy.
    """
    proxies, scale = loss_view
    labels = data.labels[np.searchsorted(data.rows, train_rows)]
    rows = centroid_rows(np.asarray(train_rows), labels, CENTROID_IMAGES_PER_CLASS, seed)
    centroids = class_centroids(model, cfg, data, rows, device)
    missing = centroids.norm(dim=1) == 0
    centroids[missing] = proxies[missing].float().cpu()
    model.set_proxies(centroids, scale)
