"""The low-level forward pass: one network over store rows or an in-memory image array.

Only :class:`galcat.model.predictor.Predictor` calls it (``tests/model/test_predictor.py`` checks
that): the predictor owns the image size, the calibration and the k-NN vote, this module the
batches, the device and the turns. A network with a head returns its ``logits`` (n, C): the
softmax head's (ce / ls-ce) or scaled cosine similarities to the proxies (proxy DML losses);
a ``knn`` network returns none (the predictor votes). Rows come back in the order asked for, and
the caller's model stays on its device and in its train/eval mode.

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
from galcat.model.calibration import softmax
from galcat.model.data import make_augment, make_batches
from galcat.model.device import autocast, memory_format, resolve_device


@dataclass
class Predictions:
    embeddings: np.ndarray  # float32 (n, D)
    index: np.ndarray  # int64 (n,) store rows in the order asked for (array positions for an array)
    votes: np.ndarray | None = None  # float32 (n, 37) for a votes-stage model
    logits: np.ndarray | None = None  # float32 (n, C) of a network with a class head, else None

    @property
    def probs(self) -> np.ndarray | None:
        """float32 (n, C) softmax of ``logits`` (None without them)."""
        return None if self.logits is None else softmax(self.logits).astype(np.float32)


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


def _array_batches(images: np.ndarray, batch_size: int):
    """Batch dicts (``images`` uint8 BHWC, ``index``) of an in-memory array, in order."""
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        # torch tensors need writable memory: a read-only array (a view of a file) is copied
        chunk = np.ascontiguousarray(chunk) if chunk.flags.writeable else np.array(chunk)
        yield {"images": torch.from_numpy(chunk), "index": torch.arange(start, start + len(chunk))}


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    source,
    indices=None,
    batch_size: int = 128,
    device=None,
    image_size: int | None = None,
    num_workers: int = 0,
) -> Predictions:
    """Run ``model`` over store rows (``source`` a store path; all rows when ``indices`` is None)
    or over an in-memory uint8 array (N, H, W, 3), without augmentation.

    ``device`` defaults to the model's own; another device runs a copy of the model there.
    ``image_size`` defaults to the size the model was trained at (``model.image_size``); images
    of another size are resized to it.
    """
    in_memory = isinstance(source, np.ndarray)
    if in_memory:
        indices = np.arange(len(source), dtype=np.int64)
    elif indices is None:
        from galcat.store import open_store

        with open_store(source) as store:
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
    if in_memory:
        loader = _array_batches(source, batch_size)
    else:
        loader = make_batches(
            source, rows, batch_size, False, 0, None, False, False, None, num_workers, dev.type == "cuda"
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
            f"{source if not in_memory else 'images'}: the loader returned {len(got_rows)} of the "
            f"{len(rows)} rows asked for"
        )
    take = np.searchsorted(rows, indices)
    emb = torch.cat(embs).numpy()[take] if embs else np.zeros((0, dim), np.float32)
    all_logits = torch.cat(logits).numpy()[take] if logits else None
    return Predictions(
        embeddings=np.ascontiguousarray(emb, dtype=np.float32),
        index=indices.copy(),
        votes=torch.cat(votes).numpy()[take] if votes else None,
        logits=None if all_logits is None else np.ascontiguousarray(all_logits, dtype=np.float32),
    )
