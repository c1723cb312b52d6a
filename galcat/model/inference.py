"""Embeddings and class predictions for store rows (used by evaluate, embed and training).

Every model that can classify returns ``logits`` (n, C) and ``probs = softmax(logits)``: the
softmax head's logits (ce / ls-ce), scaled cosine similarities to the proxies (proxy DML losses:
the nearest class prototype wins), or log vote probabilities of the k nearest training embeddings
(DML, against the run's saved reference). Rows come back in the order asked for, and the caller's
model stays on its device and in its train/eval mode.

A model trained with ``rotations=4`` is run on the four 90-degree turns of every image: a galaxy's
morphology has no preferred orientation on the sky, so its embedding is the mean of the four
unit-length view embeddings and its logits the mean of the four views' logits. Turns keep a
spiral's winding sense, so this holds for handed schemes too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from galcat.errors import GalcatError
from galcat.model.data import make_augment, make_batches
from galcat.model.device import autocast, memory_format, resolve_device
from galcat.model.vote import knn_vote_logits


@dataclass
class Predictions:
    embeddings: np.ndarray  # float32 (n, D)
    probs: np.ndarray | None  # float32 (n, C) softmax of ``logits``, None for a model that cannot classify
    index: np.ndarray  # int64 (n,) store rows, in the order asked for
    votes: np.ndarray | None = None  # float32 (n, 37) for a votes-stage model
    logits: np.ndarray | None = None  # float32 (n, C) before the softmax (temperature scaling needs them)


def _views_mean(net, x: torch.Tensor, views: int, dev, fmt) -> dict[str, torch.Tensor]:
    """The network's outputs for ``x``, averaged over ``views`` 90-degree turns (1: ``x`` alone)."""
    outs = []
    for turn in range(views):
        view = torch.rot90(x, turn, dims=(2, 3)).contiguous(memory_format=fmt) if turn else x
        with autocast(dev):
            outs.append({k: v.float() for k, v in net(view).items()})
    if views == 1:
        return outs[0]
    mean = {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}
    mean["embedding"] = torch.stack([F.normalize(o["embedding"], dim=1) for o in outs]).mean(0)
    return mean


def _model_device(model: torch.nn.Module) -> torch.device:
    tensor = next(iter(model.parameters()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


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

    ``device`` defaults to the model's own; another device runs a copy of the model there.
    ``image_size`` defaults to the size the model was trained at (``model.image_size``).
    """
    if indices is None:
        from galcat.store import open_store

        with open_store(store_path) as store:
            indices = np.arange(len(store), dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    rows = np.unique(indices)  # the loader reads sorted rows; the answer follows ``indices``
    own = _model_device(model)
    dev = own if device is None else (device if isinstance(device, torch.device) else resolve_device(device))
    # "cuda" names the current GPU, which a model on "cuda:0" already uses: no copy then
    same = dev.type == own.type and dev.index in (None, own.index)
    net = model if same else copy.deepcopy(model).to(dev)
    size = int(image_size or getattr(model, "image_size", 75))
    was_training = net.training
    net.eval()
    fmt = memory_format(dev)
    augment = make_augment(size, train=False).to(dev)
    loader = make_batches(
        store_path, rows, batch_size, False, 0, None, False, False, None, num_workers, dev.type == "cuda"
    )
    embs, logits, votes, got = [], [], [], []
    views = int(getattr(model, "rotations", 1) or 1)
    try:
        for batch in loader:
            x = augment(batch["images"].to(dev)).contiguous(memory_format=fmt)
            out = _views_mean(net, x, views, dev, fmt)
            embs.append(out["embedding"].float().cpu())
            if "logits" in out:
                logits.append(out["logits"].float().cpu())
            if "votes" in out:
                votes.append(out["votes"].float().cpu())
            got.append(batch["index"].cpu())
    finally:
        net.train(was_training)
    dim = int(getattr(model, "embedding_dim", 0))
    got_rows = torch.cat(got).numpy().astype(np.int64) if got else np.zeros(0, np.int64)
    if not np.array_equal(got_rows, rows):
        raise GalcatError(
            f"{store_path}: the loader returned {len(got_rows)} of the {len(rows)} rows asked for"
        )
    take = np.searchsorted(rows, indices)
    emb = torch.cat(embs).numpy()[take] if embs else np.zeros((0, dim), np.float32)
    all_logits = torch.cat(logits).numpy()[take] if logits else None
    if all_logits is None and getattr(model, "predictor", None) == "knn" and len(model.reference_labels):
        all_logits = knn_vote_logits(
            emb, model.reference_embeddings.cpu().numpy(), model.reference_labels.cpu().numpy(),
            len(model.class_names), model.knn_k,
        )  # fmt: skip
    probs = None
    if all_logits is not None:
        all_logits = np.ascontiguousarray(all_logits, dtype=np.float32)
        probs = torch.softmax(torch.from_numpy(all_logits), dim=1).numpy()
    return Predictions(
        embeddings=np.ascontiguousarray(emb, dtype=np.float32),
        probs=probs,
        index=indices.copy(),
        votes=torch.cat(votes).numpy()[take] if votes else None,
        logits=all_logits,
    )
