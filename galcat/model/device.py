"""Device choice and the speed settings that go with it (bf16 autocast, channels_last)."""

from __future__ import annotations

import contextlib

import torch

from galcat.errors import GalcatError


def resolve_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks cuda > mps > cpu; an explicit device that is absent is a user error."""
    name = name or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GalcatError(f"--device {name}: CUDA is not available on this machine")
    if name == "mps" and not (torch.backends.mps.is_available()):
        raise GalcatError("--device mps: Apple MPS is not available on this machine")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise GalcatError(f"--device {name!r} is not one of auto, cpu, cuda, mps")
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA (fast on tensor cores, no loss scaling needed); a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last helps cuDNN convolutions; on CPU it is left contiguous."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def seed_everything(seed: int) -> None:
    """Seed every RNG that training touches (python, numpy, torch on all devices)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
