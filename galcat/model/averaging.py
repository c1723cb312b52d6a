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


class WeightAverage:
    """EMA of a network's parameters; ``network`` is the averaged copy (BatchNorm buffers are
    not averaged: they are re-estimated for the averaged weights before every validation)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self._average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=False)

    @property
    def network(self) -> torch.nn.Module:
        return self._average.module

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Fold the live weights in after an optimiser step (the first call copies them)."""
        self._average.update_parameters(model)

    def state_dict(self) -> dict:
        return self._average.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self._average.load_state_dict(state)


def make_average(model: torch.nn.Module, ema_epochs: float, steps_per_epoch: int) -> WeightAverage | None:
    decay = ema_decay(ema_epochs, steps_per_epoch)
    return WeightAverage(model, decay) if decay > 0 else None
