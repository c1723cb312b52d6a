"""Learning-rate schedules and the per-stage choice of the best epoch (selection, early stopping).

Why OneCycle: a few CPU epochs from random weights need a high rate early and a low one at the
end; a warm-up then cosine decay over the whole run (Smith & Topin 2019, ``torch.optim.lr_scheduler
.OneCycleLR``, stepped per batch) reaches that without tuning patience. ``plateau`` keeps the
paper's ReduceLROnPlateau on validation loss. The best epoch is chosen by a validation metric of
the stage (macro F1 for classification: with 70 % ellipticals, loss and accuracy reward a model
that never predicts a rare class; MAP@R for metric learning; RMSE for votes).
"""

from __future__ import annotations

import math

import torch

from galcat.model.config import SELECT_BY, TrainConfig
from galcat.store.loader import batch_count, m_per_class_batch_count


def steps_per_epoch(cfg: TrainConfig, n_rows: int) -> int:
    """Optimiser steps in one epoch over ``n_rows`` training rows (as the loop's loaders cut them)."""
    b = cfg.batch_size
    if cfg.m_per_class is not None and cfg.stage != "votes":
        steps = m_per_class_batch_count(n_rows, b)
    else:  # the loop drops the last, partial batch once there are two whole ones
        steps = batch_count(n_rows, b, drop_last=n_rows >= 2 * b)
    return max(1, min(steps, cfg.max_steps or steps))


def make_schedulers(cfg: TrainConfig, optimizers, n_steps: int) -> tuple[list, bool]:
    """One scheduler per optimiser, and whether they step per batch (True) or per epoch."""
    if cfg.schedule == "onecycle":
        scheds = [
            torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=cfg.epochs * n_steps
            )
            for opt in optimizers
        ]
        return scheds, True
    scheds = [
        torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", patience=cfg.plateau_patience, threshold=1e-4, factor=0.1
        )
        for opt in optimizers
    ]
    return scheds, False


def step_per_batch(schedulers) -> None:
    """Advance per-batch schedulers, never past their last step (a resumed run counts exactly)."""
    for sch in schedulers:
        if sch.last_epoch + 1 < sch.total_steps:
            sch.step()


def score(metrics: dict, select_by: str) -> float:
    """The selection metric as a number where larger is better (NaN when it is missing)."""
    value = float(metrics.get(select_by, math.nan))
    return value if SELECT_BY[select_by] else -value


def improved(metrics: dict, select_by: str, best: float | None) -> bool:
    """Whether this epoch beats the best so far (the first finite score always does)."""
    now = score(metrics, select_by)
    if math.isnan(now):
        return best is None
    return best is None or math.isnan(best) or now > best + 1e-12
