"""Embeddings and class probabilities for store rows (used by evaluate and embed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from galcat.model.data import make_augment, make_batches
from galcat.model.device import autocast, memory_format, resolve_device


@dataclass
class Predictions:
    embeddings: np.ndarray  # float32 (n, D)
    probs: np.ndarray | None  # float32 (n, C) softmax of ``logits``, None without a classifier head
    index: np.ndarray  # int64 (n,) store rows, in the order of the other arrays
    votes: np.ndarray | None = None  # float32 (n, 37) for a votes-stage model
    logits: np.ndarray | None = None  # float32 (n, C) before the softmax (temperature scaling needs them)


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    store_path,
    indices=None,
    batch_size: int = 128,
    device=None,
    image_size: int | None = None,
    num_workers: int = 0,
) -> Predictions:
    """Run ``model`` over store rows (all when ``indices`` is None), without augmentation.

    ``image_size`` defaults to the size the model was trained at (``model.image_size``).
    """
    if indices is None:
        from galcat.store import open_store

        with open_store(store_path) as store:
            indices = np.arange(len(store), dtype=np.int64)
    indices = np.sort(np.asarray(indices, dtype=np.int64))
    dev = device if isinstance(device, torch.device) else resolve_device(device or "auto")
    size = int(image_size or getattr(model, "image_size", 75))
    was_training = model.training
    model.eval().to(dev, memory_format=memory_format(dev))
    augment = make_augment(size, train=False).to(dev)
    loader = make_batches(
        store_path, indices, batch_size, False, 0, None, False, False, None, num_workers, dev.type == "cuda"
    )
    embs, logits, votes, rows = [], [], [], []
    for batch in loader:
        x = augment(batch["images"].to(dev)).contiguous(memory_format=memory_format(dev))
        with autocast(dev):
            out = model(x)
        embs.append(out["embedding"].float().cpu())
        if "logits" in out:
            logits.append(out["logits"].float().cpu())
        if "votes" in out:
            votes.append(out["votes"].float().cpu())
        rows.append(batch["index"].cpu())
    model.train(was_training)
    model.to("cpu")
    dim = int(getattr(model, "embedding_dim", 0))
    all_logits = torch.cat(logits) if logits else None
    return Predictions(
        embeddings=torch.cat(embs).numpy() if embs else np.zeros((0, dim), np.float32),
        probs=torch.softmax(all_logits, dim=1).numpy() if all_logits is not None else None,
        logits=all_logits.numpy() if all_logits is not None else None,
        index=torch.cat(rows).numpy().astype(np.int64) if rows else np.zeros(0, np.int64),
        votes=torch.cat(votes).numpy() if votes else None,
    )
