"""Trunks (torchvision ResNets or any timm model) and the encoder weights a run may start from.

Why: the field's accuracy comes from pretrained encoders (zoobot publishes timm models on the
Hugging Face hub), and an astronomer offline brings a weights file. ``--init`` therefore takes a
galcat run or checkpoint (``galcat.model.networks.transfer_weights``), a weights file
(``.safetensors`` or a state dict loaded with ``weights_only=True``) or ``hf_hub:OWNER/NAME``
(timm's hub names, downloaded once into ``cache_dir("models")``). An encoder's own config gives
the input size and the normalisation it was trained with; the network records them, so a
checkpoint rebuilds offline with ``pretrained=False`` and the saved weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from galcat.errors import GalcatError
from galcat.model.config import TIMM_PREFIX, check_arch

HUB_PREFIX = "hf_hub:"
#: ImageNet statistics: what galcat's BatchAugment normalises with
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: classifier layers of torchvision / timm checkpoints, replaced by galcat's heads
_HEAD_PREFIXES = ("fc.", "head.fc.", "classifier.", "head.")


@dataclass
class Encoder:
    """Trunk weights from outside galcat, and the input the encoder expects."""

    source: str  # what the user named (a file or hf_hub:NAME), for logs and summary.json
    arch: str | None  # galcat --arch of the weights (None: take the run's)
    state_dict: dict = field(repr=False, default_factory=dict)
    mean: tuple | None = None
    std: tuple | None = None
    input_size: int | None = None


def _timm():
    try:
        import timm
    except ImportError:
        raise GalcatError("timm is not installed: pip install 'galcat[timm]' for --arch timm:NAME") from None
    return timm


def create_trunk(arch: str) -> tuple[nn.Module, int, tuple, tuple]:
    """A randomly initialised trunk that returns pooled features, its width, and its mean/std."""
    import torchvision

    check_arch(arch)
    if arch.startswith(TIMM_PREFIX):
        timm = _timm()
        name = arch[len(TIMM_PREFIX) :]
        try:
            trunk = timm.create_model(name, pretrained=False, num_classes=0)
        except RuntimeError as exc:  # timm: "Unknown model (...)"
            raise GalcatError(f"--arch {arch}: {str(exc).splitlines()[0]}") from None
        cfg = getattr(trunk, "pretrained_cfg", {}) or {}
        mean, std = tuple(cfg.get("mean", IMAGENET[0])), tuple(cfg.get("std", IMAGENET[1]))
        return trunk, int(trunk.num_features), mean, std
    trunk = getattr(torchvision.models, arch)(weights=None)
    n_features = trunk.fc.in_features
    trunk.fc = nn.Identity()
    return trunk, n_features, IMAGENET[0], IMAGENET[1]


def read_weights(path: str | os.PathLike) -> dict:
    """A state dict from ``.safetensors`` or a torch file (``weights_only=True``), unwrapped."""
    from galcat.model.checkpoint import safe_load

    path = Path(path)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise GalcatError(f"{path}: weights file not found")
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise GalcatError(f"{path}: pip install 'galcat[timm]' to read .safetensors") from None
        try:
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise GalcatError(f"{path}: not a readable .safetensors file ({exc})") from None
    else:
        state = safe_load(path)
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise GalcatError(f"{path}: not a state dict of named tensors")
    return state


def load_trunk_state(trunk: nn.Module, state: dict, arch: str, source: str) -> None:
    """Load trunk weights, dropping the classifier and the usual wrappers' key prefixes."""
    state = {k.removeprefix("module.").removeprefix("trunk."): v for k, v in state.items()}
    own = trunk.state_dict()
    state = {k: v for k, v in state.items() if k in own or not k.startswith(_HEAD_PREFIXES)}
    missing, unexpected = trunk.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise GalcatError(
            f"{source}: weights do not fit a {arch} trunk (missing {len(missing)} keys e.g. "
            f"{missing[:2]}, unexpected {len(unexpected)} e.g. {unexpected[:2]})"
        )


def is_encoder_source(init: str) -> bool:
    """Whether ``--init`` names encoder weights (hub name or weights file), not a galcat run."""
    if init.startswith(HUB_PREFIX):
        return True
    path = Path(init)
    if path.is_dir() or not path.is_file():
        return False
    if path.suffix == ".safetensors":
        return True
    from galcat.model.checkpoint import safe_load

    payload = safe_load(path)
    return not (isinstance(payload, dict) and "arch" in payload and "state_dict" in payload)


def open_encoder(init: str, arch: str | None) -> Encoder:
    """The encoder ``--init`` names: a weights file (for ``arch``) or a hub model."""
    if init.startswith(HUB_PREFIX):
        return hub_encoder(init)
    enc = Encoder(source=init, arch=arch, state_dict=read_weights(init))
    if arch is not None and arch.startswith(TIMM_PREFIX):
        _, _, enc.mean, enc.std = create_trunk(arch)
    return enc


def hub_encoder(name: str) -> Encoder:
    """``timm.create_model('hf_hub:NAME', pretrained=True, num_classes=0)`` into galcat's cache.

    Offline (or the hub unreachable) and not cached: one GalcatError line, after huggingface_hub's
    own connection timeout (``HF_HUB_ETAG_TIMEOUT``, seconds). ``HF_ENDPOINT`` picks a mirror.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    from galcat.net import cache_dir

    timm = _timm()
    cache = cache_dir("models")
    cache.mkdir(parents=True, exist_ok=True)
    repo = name[len(HUB_PREFIX) :].split("@")[0]
    cached = isinstance(try_to_load_from_cache(repo, "config.json", cache_dir=str(cache)), str)
    if not cached:
        _check_hub(name, f"{constants.ENDPOINT}/{repo}/resolve/main/config.json")
    offline = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = offline or cached  # downloaded once: no hub round trip after that
    try:
        model = timm.create_model(name, pretrained=True, num_classes=0, cache_dir=str(cache))
    except Exception as exc:  # noqa: BLE001 - hub, HTTP and timm errors all mean "not available"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GalcatError(
            f"--init {name}: cannot load the encoder from the Hugging Face hub "
            f"(offline or not found: {type(exc).__name__}: {first[:160]}); download it once online "
            "or pass a local weights file (.safetensors or a state dict .pt) with --arch timm:NAME"
        ) from None
    finally:
        constants.HF_HUB_OFFLINE = offline
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    architecture = cfg.get("architecture") or type(model).__name__.lower()
    size = cfg.get("input_size")
    return Encoder(
        source=name,
        arch=TIMM_PREFIX + architecture,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
        mean=tuple(cfg.get("mean", IMAGENET[0])),
        std=tuple(cfg.get("std", IMAGENET[1])),
        input_size=int(size[-1]) if size else None,
    )


def _check_hub(name: str, url: str) -> None:
    """One quick request through galcat's HTTP layer, so an unreachable hub fails in seconds
    (huggingface_hub itself retries a refused connection with back-off for half a minute)."""
    from galcat.errors import NetworkError
    from galcat.net import HttpConfig, Session

    session = Session(HttpConfig(retries=1, timeout=(5.0, 15.0)), service="Hugging Face hub")
    try:
        status = session.request("HEAD", url, allow_redirects=False).status_code
    except NetworkError as exc:
        raise GalcatError(
            f"--init {name}: cannot reach the Hugging Face hub (offline? {str(exc).splitlines()[0][:160]}); "
            "download it once online or pass a local weights file (.safetensors or a state dict .pt) "
            "with --arch timm:NAME"
        ) from None
    if status == 404:
        raise GalcatError(f"--init {name}: no such model on the Hugging Face hub ({url}: HTTP 404)")
