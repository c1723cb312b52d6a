"""One training epoch and one validation pass, per stage.

``Objective`` owns the stage loss (and the DML proxies, which are learnable); the training step
runs the network under bf16 autocast on CUDA and computes losses in fp32.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from galcat.metrics.classification import accuracy_and_macro_f1
from galcat.metrics.retrieval import retrieval_metrics
from galcat.model.device import autocast, memory_format
from galcat.model.distributed import DistInfo, average_gradients, wrap_loss_and_miner
from galcat.model.losses import LabelSmoothingCrossEntropy, make_dml_loss, make_miner, proxy_view
from galcat.model.schedule import step_per_batch
from galcat.model.vote import knn_vote_logits
from galcat.threads import rebalance as rebalance_threads


class Objective(nn.Module):
    """The loss of one stage: votes MSE, CE, label-smoothed CE, or PML loss + miner."""

    def __init__(self, cfg, n_classes: int, info: DistInfo | None = None, class_weights=None):
        super().__init__()
        self.stage = cfg.stage
        # ce / ls-ce per-class loss weights (``--balance loss``); a buffer so it follows .to(device)
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.info = info or DistInfo()
        self.label_smoothing = LabelSmoothingCrossEntropy(epsilon=cfg.label_smoothing)
        self.dml_loss = None
        if cfg.stage == "dml":
            self.dml_loss = make_dml_loss(cfg.loss, n_classes=n_classes, embedding_dim=cfg.embedding_dim)
            self.miner = make_miner(cfg.miner)
            # kept out of the module tree: the state_dict (proxies) is the same with and without DDP
            self._wrapped = tuple(wrap_loss_and_miner(self.dml_loss, self.miner, self.info))

    def forward(self, out: dict, batch: dict, train: bool = True) -> torch.Tensor:
        if self.stage == "votes":
            return F.mse_loss(out["votes"].float(), batch["targets"].float())
        labels = batch["labels"]
        if self.stage == "ce":
            return F.cross_entropy(out["logits"].float(), labels, weight=self.class_weights)
        if self.stage == "ls-ce":
            return self.label_smoothing(out["logits"], labels, self.class_weights)
        emb = out["embedding"].float()
        if train:
            train_loss, train_miner = self._wrapped
            tuples = train_miner(emb, labels) if train_miner is not None else None
            loss = train_loss(emb, labels, indices_tuple=tuples)
        else:  # validation: the plain loss over the batch, no mining (a stable early-stop signal)
            loss = self.dml_loss(emb, labels)
        return loss

    def sync_predictor(self, model) -> None:
        """Copy the proxies into a ``proxy`` predictor, so the network predicts what the loss learnt."""
        if self.dml_loss is not None and getattr(model, "predictor", None) == "proxy":
            model.set_proxies(*proxy_view(self.dml_loss))


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def run_epoch(
    model, objective, loader, augment, optimizers, device, info, max_steps=None, on_step=None, schedulers=(),
    relabel=None, precision=None,
) -> dict:  # fmt: skip
    """Train for one pass over ``loader``; returns the mean training loss and the step count.

    ``schedulers`` are per-batch learning-rate schedulers, advanced after every step. ``relabel``
    (a :class:`galcat.model.data.MirrorRelabel`) mirrors part of each batch before ``augment``.
    ``precision``: ``bf16`` or ``fp32`` forward passes (None: bf16 on CUDA only).
    """
    model.train()
    fmt = memory_format(device, precision)
    total, n_seen, steps = 0.0, 0, 0
    proxy_params = list(objective.parameters())
    for batch in loader:
        rebalance_threads()  # a galcat job started or ended on this machine: resize the thread pool
        if max_steps is not None and steps >= max_steps:
            break
        batch = _to_device(batch, device)
        if relabel is not None:
            batch = relabel(batch)
        x = augment(batch["images"]).contiguous(memory_format=fmt)
        with autocast(device, precision):
            out = model(x)
        loss = objective(out, batch, train=True)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(proxy_params, info)
        for opt in optimizers:
            opt.step()
        step_per_batch(schedulers)
        n = x.shape[0]
        total += float(loss.detach()) * n
        n_seen += n
        steps += 1
        if on_step is not None:
            on_step(float(loss.detach()))
    return {"train_loss": total / max(n_seen, 1), "steps": steps}


@torch.no_grad()
def recalibrate_batchnorm(model, loader, augment, device, max_images: int, precision=None) -> int:
    """Re-estimate BatchNorm running statistics of the current weights ("precise BN").

    Why: during training BN normalises with batch statistics, while evaluation uses running
    averages (momentum 0.1) that trail weights which move fast. With few steps per epoch the
    averages describe an older network, and eval-mode logits collapse onto one class although
    the same weights separate the classes in train mode. A forward pass in train mode with a
    cumulative average (``momentum=None``) over ``max_images`` training images gives statistics
    of the weights being validated and saved. Returns the number of images seen (0: no BN layers).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or max_images <= 0:
        return 0
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    fmt = memory_format(device, precision)
    seen = 0
    try:
        for batch in loader:
            if seen >= max_images:
                break
            x = augment(batch["images"].to(device, non_blocking=True)).contiguous(memory_format=fmt)
            if x.shape[0] < 2:  # train-mode BN cannot normalise a single sample
                continue
            with autocast(device, precision):
                model(x)
            seen += x.shape[0]
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return seen


def _embeddings_and_labels(model, loader, augment, device, precision) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode embeddings and labels of every batch of ``loader`` (the k-NN vote's reference)."""
    fmt = memory_format(device, precision)
    embeddings, labels = [], []
    for batch in loader:
        x = augment(batch["images"].to(device, non_blocking=True)).contiguous(memory_format=fmt)
        with autocast(device, precision):
            embeddings.append(model(x)["embedding"].float().cpu())
        labels.append(batch["labels"].cpu())
    return torch.cat(embeddings).numpy(), torch.cat(labels).numpy()


@torch.no_grad()
def validate(model, objective, loader, augment, device, stage: str, precision=None, reference=None) -> dict:
    """Validation loss plus the stage's metrics over the whole validation set.

    ``reference``: batches of the training rows, among which a ``knn`` model's validation rows
    vote (the saved predictor's rule, k and reference); without it such a model has no
    classification metrics.
    """
    model.eval()
    fmt = memory_format(device, precision)
    total, n_seen = 0.0, 0
    embeddings, logits, labels, votes, targets = [], [], [], [], []
    for batch in loader:
        batch = _to_device(batch, device)
        x = augment(batch["images"]).contiguous(memory_format=fmt)
        with autocast(device, precision):
            out = model(x)
        loss = objective(out, batch, train=False)
        total += float(loss) * x.shape[0]
        n_seen += x.shape[0]
        embeddings.append(out["embedding"].float().cpu())
        if "logits" in out:
            logits.append(out["logits"].float().cpu())
        if stage == "votes":
            votes.append(out["votes"].float().cpu())
            targets.append(batch["targets"].float().cpu())
        else:
            labels.append(batch["labels"].cpu())
    metrics = {"val_loss": total / max(n_seen, 1)}
    if stage == "votes":
        if votes:
            metrics["rmse"] = math.sqrt(float(F.mse_loss(torch.cat(votes), torch.cat(targets))))
        return metrics
    y = torch.cat(labels).numpy() if labels else np.zeros(0, dtype=np.int64)
    if not logits and getattr(model, "predictor", None) == "knn" and reference is not None and len(y):
        ref_emb, ref_labels = _embeddings_and_labels(model, reference, augment, device, precision)
        emb = torch.cat(embeddings).numpy()
        n_classes = len(model.class_names)
        logits = [torch.from_numpy(knn_vote_logits(emb, ref_emb, ref_labels, n_classes, model.knn_k))]
    if logits:
        logits = torch.cat(logits)
        metrics.update(classification_scores(logits.argmax(1).numpy(), y, logits.shape[1]))
    if embeddings:
        metrics.update(retrieval_scores(torch.cat(embeddings).numpy(), y))
    return metrics


def classification_scores(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> dict:
    """Accuracy and macro F1 over all ``n_classes`` (galcat.metrics.classification)."""
    if len(truth) == 0:
        return {}
    return accuracy_and_macro_f1(truth, pred, n_classes)


def retrieval_scores(embeddings: np.ndarray, labels: np.ndarray) -> dict:
    """precision@1, R-precision and MAP@R of the validation set against itself (leave-one-out)."""
    if len(labels) < 2:
        return {}
    res = retrieval_metrics(embeddings, labels)
    return {k: float(res[k]) for k in ("precision_at_1", "r_precision", "map_at_r")}
