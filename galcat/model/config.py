"""The training configuration and the per-stage, per-device defaults.

Fields left as ``None`` are filled by :func:`resolve_config` from the stage and the device, and
the resolved values are what ``config.json`` records, so a run can always be repeated exactly.

Why these defaults (the paper's values are those of its training scripts, e.g. ``myEfigiLSCE.py``):

* The paper fine-tunes every stage from an earlier one with tiny learning rates (Adam 1e-5 for CE,
  SGD 1e-5 momentum 0.05 for LSCE/DML, 300 epochs). From scratch, or in the few epochs a CPU can
  afford, those rates learn nothing, so galcat uses Adam 1e-3 for ``ce``/``ls-ce`` (1e-4 when
  ``--init`` fine-tunes), Adam 1e-4 for the ``dml`` trunk, and SGD(momentum 0.9) for the proxies
  at 1e-2 (the paper gives proxies their own SGD, 10x the trunk rate). ``votes`` keeps the
  paper's SGD(lr 0.1, momentum 0.9) but at 0.01, which is stable without warm-up.
* ReduceLROnPlateau(patience 3, threshold 1e-4, factor 0.1) on validation loss, as the paper,
  and early stopping (patience 10, the paper's CE setting) that restores the best weights.
* CPU quick recipe (no accelerator): resnet18, batch 64, the store's image size, Adam 1e-3
  (ls-ce) / 1e-4 (dml trunk) + proxies SGD 1e-2, 6 epochs for ``ce``/``ls-ce``/``votes`` and 3 for
  ``dml``: small enough that ``ls-ce`` then ``dml --init`` on the GZ1 store finish in minutes on
  two CPU cores (README, "CPU quick recipe", has the measured figures).
* Accelerator recipe: the paper's resnet50, batch 128 (votes/ce) or 320 (ls-ce/dml, the paper's
  derived batch), 100 epochs bounded by early stopping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from galcat.errors import GalcatError
from galcat.ranges import MAX_IMAGE_SIDE, check_numbers

STAGES = ("votes", "ce", "ls-ce", "dml")
ARCHS = ("resnet18", "resnet34", "resnet50")
LOSSES = ("contrastive", "triplet", "proxy-nca", "proxy-anchor", "normalized-softmax")
MINERS = ("pair", "triplet", "none")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class TrainConfig:
    """Everything that defines a training run (``galcat train``)."""

    store: str
    stage: str = "ls-ce"
    out: str = "runs/galcat"
    scheme: str | None = None  # default: the store's first label scheme
    loss: str = "proxy-nca"  # dml only
    miner: str = "pair"  # dml only
    init: str | None = None  # earlier run dir (fold 0 best) or a checkpoint .pt
    arch: str | None = None  # default: resnet18 on CPU, resnet50 on an accelerator
    embedding_dim: int = 128
    image_size: int | None = None  # default: the store's image size (no resize)
    folds: int = 5
    val_fraction: float = 0.2  # used when folds == 1
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    proxy_lr: float | None = None
    optimizer: str | None = None  # adam | sgd
    momentum: float = 0.9  # sgd only
    weight_decay: float = 5e-5
    label_smoothing: float = 0.1  # epsilon of the paper's equations 1-2
    m_per_class: int | None = None  # MPerClassSampler in the loader
    patience: int = 10  # early stopping, epochs without val-loss improvement
    bn_images: int = 2048  # training images that re-estimate BatchNorm statistics before validation
    plateau_patience: int = 3
    device: str = "auto"
    compile: bool = False
    weights: str | None = None  # user trunk weights (state_dict .pt), loaded weights_only
    seed: int = 0
    num_workers: int = 0
    max_steps: int | None = None  # cap on batches per epoch (smoke tests, benchmarks)
    flips: bool = True
    rot90: bool = True
    max_angle: float = 0.0
    progress: bool | None = None  # None: rich bar when stderr is a terminal


#: ranges of the numeric fields (the same for options, Python calls and a run's config.json)
_RANGES = {
    "embedding_dim": {"low": 2, "high": 65536, "integer": True},
    "image_size": {"low": 8, "high": MAX_IMAGE_SIDE, "integer": True, "allow_none": True},
    "folds": {"low": 1, "high": 100, "integer": True},
    "val_fraction": {"low": 0, "high": 1, "low_open": True},
    "epochs": {"low": 1, "high": 100_000, "integer": True, "allow_none": True},
    "batch_size": {"low": 1, "high": 1 << 20, "integer": True, "allow_none": True},
    "lr": {"low": 0, "high": 10, "low_open": True, "allow_none": True},
    "proxy_lr": {"low": 0, "high": 100, "low_open": True, "allow_none": True},
    "momentum": {"low": 0, "high": 1},
    "weight_decay": {"low": 0, "high": 1},
    "label_smoothing": {"low": 0, "high": 1},
    "m_per_class": {"low": 1, "integer": True, "allow_none": True},
    "patience": {"low": 1, "integer": True},
    "plateau_patience": {"low": 1, "integer": True, "option": "plateau_patience"},
    "seed": {"low": 0, "high": 2**32 - 1, "integer": True},
    "num_workers": {"low": 0, "high": 256, "integer": True},
    "max_steps": {"low": 1, "integer": True, "allow_none": True},
    "max_angle": {"low": 0, "high": 180, "option": "max_angle"},
}


def _check(cfg: TrainConfig) -> None:
    choices = {"stage": STAGES, "loss": LOSSES, "miner": MINERS}
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise GalcatError(f"--{name} {getattr(cfg, name)!r} is not one of {', '.join(allowed)}")
    if cfg.arch is not None and cfg.arch not in ARCHS:
        raise GalcatError(f"--arch {cfg.arch!r} is not one of {', '.join(ARCHS)}")
    if cfg.optimizer is not None and cfg.optimizer not in OPTIMIZERS:
        raise GalcatError(f"--optimizer {cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if cfg.folds < 1:
        raise GalcatError(f"--folds must be >= 1, got {cfg.folds}")
    if cfg.folds == 1 and not 0.0 < cfg.val_fraction < 1.0:
        raise GalcatError(f"--val-fraction must be in (0, 1), got {cfg.val_fraction}")
    if cfg.bn_images < 0:
        raise GalcatError(f"--bn-images must be >= 0, got {cfg.bn_images}")
    check_numbers(cfg, _RANGES)
    if cfg.val_fraction >= 1.0:
        raise GalcatError(f"--val-fraction must be in (0, 1), got {cfg.val_fraction}")


def check_train_config(cfg: TrainConfig) -> TrainConfig:
    """GalcatError naming the option for a bad choice or a value out of range; returns ``cfg``."""
    _check(cfg)
    return cfg


def resolve_config(cfg: TrainConfig, device_type: str, store_image_size: int) -> TrainConfig:
    """Fill the ``None`` fields from the stage and device type ('cpu', 'cuda', 'mps')."""
    _check(cfg)
    accel = device_type != "cpu"
    finetune = cfg.init is not None
    values: dict = {}
    if cfg.arch is None:
        values["arch"] = "resnet50" if accel else "resnet18"
    if cfg.image_size is None:
        values["image_size"] = int(store_image_size)
    if cfg.epochs is None:
        values["epochs"] = 100 if accel else (3 if cfg.stage == "dml" else 6)
    if cfg.batch_size is None:
        values["batch_size"] = (320 if cfg.stage in ("ls-ce", "dml") else 128) if accel else 64
    if cfg.optimizer is None:
        values["optimizer"] = "sgd" if cfg.stage == "votes" else "adam"
    if cfg.lr is None:
        if cfg.stage == "votes":
            values["lr"] = 0.01
        elif cfg.stage == "dml":
            values["lr"] = 1e-4
        else:
            values["lr"] = 1e-4 if finetune else 1e-3
    if cfg.proxy_lr is None:
        values["proxy_lr"] = 1e-2
    return dataclasses.replace(cfg, **values)
