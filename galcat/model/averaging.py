"""An exponential moving average of the weights, the network that is validated and saved.

Why: on a few CPU epochs the weights of one step are noisy, and the best epoch is chosen on a
validation set whose rare classes hold a handful of galaxies; the average of the last steps is a
smoother network than any single step (Polyak & Juditsky 1992; Izmailov et al. 2018 for
averaging along a schedule). Training itself is unchanged: the optimiser steps the live weights,
the average follows them, and each epoch's BatchNorm re-estimation, validation and checkpoints
use the average (``torch.optim.swa_utils.AveragedModel`` with its EMA update).

The time constant is given in epochs (``--ema-epochs``), so a run reads the same whatever its
batch size: decay per step = ``1 - 1 / (ema_epochs * steps_per_epoch)``.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def ema_decay(ema_epochs: float, steps_per_epoch: int) -> float:
    """Per-step decay whose time constant is ``ema_epochs`` epochs (0: no averaging)."""
    if ema_epochs <= 0:
        return 0.0
    return 1.0 - 1.0 / max(ema_epochs * max(steps_per_epoch, 1), 1.0)


def make_average(model: torch.nn.Module, ema_epochs: float, steps_per_epoch: int) -> AveragedModel | None:
    """The EMA of ``model``'s parameters (None when ``ema_epochs`` is 0): ``.module`` is the averaged
    network, ``.update_parameters(model)`` folds in the live weights after a step (the first call
    copies them). BatchNorm buffers are not averaged: they are re-estimated for the averaged
    weights before every validation."""
    decay = ema_decay(ema_epochs, steps_per_epoch)
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
