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


def cpu_bf16_supported() -> bool:
    """Whether this CPU does bf16 maths natively (AVX512-BF16 or AMX), where oneDNN runs bf16
    convolutions faster than fp32 (``benchmarks/train_throughput.py`` measures it); elsewhere bf16
    is emulated and slower."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_precision(device_type: str) -> str:
    """``bf16`` on CUDA and on a CPU with native bf16; ``fp32`` elsewhere (MPS, older CPUs)."""
    if device_type == "cuda" or (device_type == "cpu" and cpu_bf16_supported()):
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str | None = None):
    """bf16 autocast where ``precision`` asks for it (None: CUDA only, the inference default).

    bf16 keeps fp32's exponent range, so no loss scaling is needed; weights, optimiser state and
    losses stay fp32.
    """
    bf16 = device.type == "cuda" if precision is None else precision == "bf16"
    if bf16 and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device, precision: str | None = None) -> torch.memory_format:
    """channels_last for cuDNN and for oneDNN's bf16 convolutions; contiguous for fp32 on CPU."""
    fast = device.type == "cuda" or (device.type == "cpu" and precision == "bf16")
    return torch.channels_last if fast else torch.contiguous_format


def seed_everything(seed: int) -> None:
    """Seed every RNG that training touches (python, numpy, torch on all devices)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
