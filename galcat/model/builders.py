"""The parts of one fold's training: the network, its optimisers, class weights, checkpoint payloads."""

from __future__ import annotations

import numpy as np
import torch

from galcat import __version__
from galcat.model.config import PROXY_LOSSES, TrainConfig
from galcat.model.data import TrainingData
from galcat.model.encoders import Encoder, load_trunk_state
from galcat.model.networks import GalaxyNet, load_trunk_weights, transfer_weights


def predictor_for(cfg: TrainConfig) -> str:
    """How the stage's network predicts classes (see galcat.model.networks)."""
    if cfg.stage == "votes":
        return "votes"
    if cfg.stage == "dml":
        return "knn" if cfg.predictor == "knn" or cfg.loss not in PROXY_LOSSES else "proxy"
    return "softmax"


def build_model(cfg: TrainConfig, data: TrainingData, init: dict | Encoder | None) -> GalaxyNet:
    """The stage's network; ``init`` a galcat checkpoint (its weights transfer) or an Encoder."""
    votes = cfg.stage == "votes"
    encoder = init if isinstance(init, Encoder) else None
    model = GalaxyNet(
        arch=cfg.arch,
        embedding_dim=cfg.embedding_dim,
        class_names=[] if votes else data.class_names,
        scheme=data.scheme,
        n_votes=data.n_votes if votes else 0,
        image_size=cfg.image_size,
        predictor=predictor_for(cfg),
        knn_k=cfg.knn_k,
        rotations=cfg.predict_turns,
        input_mean=encoder.mean if encoder else None,
        input_std=encoder.std if encoder else None,
    )
    if cfg.weights:
        load_trunk_weights(model, cfg.weights)
    if encoder is not None:
        load_trunk_state(model.trunk, encoder.state_dict, cfg.arch, encoder.source)
    elif init is not None:
        transfer_weights(model, init["state_dict"], init)
    model.stage = cfg.stage
    return model


def set_trunk_trainable(model: GalaxyNet, trainable: bool) -> None:
    """``--freeze-trunk`` / ``--freeze-epochs``: the trunk's weights stop (or resume) learning.

    Frozen weights get no gradient, so the optimisers skip them; their BatchNorm statistics are
    still re-estimated on the training images before each validation (they describe the new data).
    """
    for p in model.trunk.parameters():
        p.requires_grad_(trainable)


def make_optimizers(cfg: TrainConfig, model, objective) -> list[torch.optim.Optimizer]:
    """The trunk/head optimiser and, for proxy losses, a separate SGD for the proxies.

    The trunk's parameter group learns at ``lr * trunk_lr_factor`` (a pretrained trunk moves
    less than the new heads); frozen parameters stay in the groups and are skipped while frozen.
    """
    trunk_params = list(model.trunk.parameters()) if hasattr(model, "trunk") else []
    ids = {id(p) for p in trunk_params}
    head_params = [p for p in model.parameters() if id(p) not in ids]
    params = [
        {"params": trunk_params, "lr": cfg.lr * cfg.trunk_lr_factor},
        {"params": head_params, "lr": cfg.lr},
    ]
    if cfg.optimizer == "sgd":
        trunk = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        trunk = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    opts = [trunk]
    proxies = list(objective.parameters())
    if proxies:
        opts.append(torch.optim.SGD(proxies, lr=cfg.proxy_lr, momentum=0.9))
    return opts


def class_weights(cfg: TrainConfig, data: TrainingData, train_rows) -> torch.Tensor | None:
    """``--balance loss``: per-class loss weights ``n_c ** -power`` (mean 1 over training rows)."""
    if cfg.balance != "loss" or cfg.stage not in ("ce", "ls-ce") or cfg.balance_power == 0:
        return None
    codes = data.labels[np.searchsorted(data.rows, train_rows)]
    counts = np.bincount(codes, minlength=len(data.class_names)).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1.0) ** -cfg.balance_power, 0.0)
    w *= len(codes) / float((w[codes]).sum())
    return torch.as_tensor(w, dtype=torch.float32)


def cpu_state_dict(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def checkpoint_payload(model: GalaxyNet, cfg: TrainConfig, data: TrainingData, train_rows, val_rows, epoch):
    return {
        **model.describe(),
        "state_dict": cpu_state_dict(model),
        "stage": cfg.stage,
        "store_fingerprint": data.fingerprint,
        "galcat_version": __version__,
        "epoch": int(epoch),
        "train_indices": torch.as_tensor(np.asarray(train_rows), dtype=torch.int64),
        "val_indices": torch.as_tensor(np.asarray(val_rows), dtype=torch.int64),
    }
