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
* Schedule: OneCycle (warm-up then cosine decay, stepped per batch) up to those rates; the paper's
  ReduceLROnPlateau(patience 3, factor 0.1) on validation loss stays available (``plateau``).
* The best epoch, and early stopping (patience 10, the paper's CE setting, under ``plateau`` only:
  a OneCycle run is as long as its schedule, whose low-rate final epochs are where it settles, so
  it is not cut short unless ``patience`` is given), follow a validation metric of the stage:
  macro F1 for ``ce``/``ls-ce`` (GZ1 is 70 % ellipticals: loss and accuracy favour a model that
  never predicts a rare class), MAP@R for ``dml``, RMSE for ``votes``.
* Class imbalance: class-balanced batches, each row drawn with weight ``n_class ** -0.5`` (the
  square-root rule: rare classes are seen often without repeating their few images endlessly).
* Flips are off for a handed scheme (GZ1's ``spiral_cw`` / ``spiral_acw``): a mirror image swaps
  the label. 90-degree rotations keep handedness and stay on. Instead, half of each batch is
  mirrored *with its mirror label* (``mirror_relabel``): a reflected clockwise spiral is an
  anticlockwise one, so the handed classes get twice the examples and a label that is right.
* CPU quick recipe (no accelerator): resnet18, batch 64, the store's image size, Adam 1e-3
  (ls-ce) / 1e-4 (dml trunk) + proxies SGD 1e-2, 20 epochs for ``ce``/``ls-ce``, 6 for ``votes``
  and 6 for ``dml``: sized so that ``ls-ce`` then ``dml --init`` on the 64 px GZ1 store is a
  one-sitting CPU run (``benchmarks/baseline_cnn.py`` times it; docs/benchmarks.md).
* DML predictions: a distance-weighted vote of the 20 nearest training galaxies. Re-scoring eight
  GZ1 DML models with k = 5, 10, 20 and 30 (same embeddings), 20 had the best mean accuracy and
  macro F1, and a ninth model trained afterwards agreed on accuracy (``benchmarks/knn_vote_k.py``;
  docs/recipe.md): fewer neighbours give noisy vote shares, more blur the rare classes.
* Precision: bf16 forward passes (autocast; weights, optimiser state and losses stay fp32) on CUDA
  and on CPUs with native bf16 (AVX512-BF16 or AMX), where they train faster than fp32
  (``benchmarks/train_throughput.py`` measures it; docs/recipe.md); fp32 elsewhere, where bf16
  would be emulated and slower.
* Accelerator recipe: the paper's resnet50, batch 128 (votes/ce) or 320 (ls-ce/dml, the paper's
  derived batch), 100 epochs bounded by early stopping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from galcat.errors import GalcatError
from galcat.model.device import default_precision
from galcat.ranges import bound, check_numbers

STAGES = ("votes", "ce", "ls-ce", "dml")
SCHEDULES = ("onecycle", "plateau")
DML_PREDICTORS = ("knn", "centroid", "proxy")
BALANCES = ("sampler", "loss", "none")
#: selection metrics and whether larger is better
SELECT_BY = {
    "macro_f1": True, "accuracy": True, "map_at_r": True, "precision_at_1": True, "r_precision": True,
    "val_loss": False, "rmse": False,
}  # fmt: skip
ARCHS = ("resnet18", "resnet34", "resnet50")
LOSSES = ("contrastive", "triplet", "proxy-nca", "proxy-anchor", "normalized-softmax")
PREDICT_TURNS = (1, 4)  # views a prediction averages: the image alone, or its four 90-degree turns
PROXY_LOSSES = ("proxy-nca", "proxy-anchor", "normalized-softmax")  # losses that learn one proxy a class
MINERS = ("pair", "triplet", "none")
OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("bf16", "fp32")
DEVICES = ("auto", "cpu", "cuda", "mps")  # a torch device string such as cuda:1 works too


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
    patience: int | None = None  # early stopping after this many epochs without a better metric
    # (default: 10 under the plateau schedule, none under onecycle)
    select_by: str | None = None  # default: macro_f1 (ce, ls-ce), map_at_r (dml), rmse (votes)
    schedule: str = "onecycle"  # onecycle (warm-up + cosine, per step) | plateau (the paper's)
    balance: str = "sampler"  # class imbalance: sampler (class-balanced batches) | loss | none
    balance_power: float = 0.5  # class weight n_c ** -power: 0 natural frequencies, 1 equal classes
    predictor: str = "knn"  # dml: knn (vote of the training reference) | centroid | proxy (proxy losses)
    knn_k: int = 20  # dml --predictor knn: neighbours in the distance-weighted vote
    predict_turns: int = 4  # predictions average the 4 90-degree turns of an image (1: off)
    bn_images: int = 1024  # training images that re-estimate BatchNorm statistics before validation
    precision: str | None = None  # bf16 | fp32 forward passes; default bf16 where the device is fast at it
    ema_epochs: float = 0.0  # validate and save an EMA of the weights with this time constant (0: off)
    plateau_patience: int = 3
    device: str = "auto"
    compile: bool = False
    weights: str | None = None  # user trunk weights (state_dict .pt), loaded weights_only
    seed: int = 0
    num_workers: int = 0
    max_steps: int | None = None  # cap on batches per epoch (smoke tests, benchmarks)
    flips: bool | None = None  # default: on, unless the scheme is handed (a flip changes its labels)
    mirror_relabel: bool | None = None  # handed scheme: mirror half a batch, swapping paired labels
    rot90: bool = True
    max_angle: float = 0.0
    progress: bool | None = None  # None: rich bar when stderr is a terminal
    labels_per_class: int | None = None  # train on this many labelled rows per class (seeded subset)
    label_fraction: float | None = None  # or on this stratified fraction of the training split
    freeze_trunk: bool = False  # train only the heads on frozen trunk features (a probe)
    freeze_epochs: int = 0  # heads alone for this many epochs, then everything
    trunk_lr_factor: float = 1.0  # the trunk learns at lr * this (heads at lr)


#: ranges of the numeric fields (the same for options, Python calls and a run's config.json)
_RANGES = {
    "embedding_dim": {"low": 2, "high": 65536, "integer": True},
    "image_size": bound("image_side", low=8, allow_none=True),
    "folds": {"low": 1, "high": 100, "integer": True},
    "val_fraction": bound("fraction"),
    "epochs": bound("epochs", allow_none=True),
    "batch_size": bound("batch_size", allow_none=True),
    "lr": {"low": 0, "high": 10, "low_open": True, "allow_none": True},
    "proxy_lr": {"low": 0, "high": 100, "low_open": True, "allow_none": True},
    "momentum": {"low": 0, "high": 1},
    "weight_decay": {"low": 0, "high": 1},
    "label_smoothing": bound("probability"),
    "m_per_class": {"low": 1, "integer": True, "allow_none": True},
    "patience": {"low": 1, "integer": True, "allow_none": True},
    "plateau_patience": {"low": 1, "integer": True, "option": "plateau_patience"},
    "seed": bound("seed"),
    "num_workers": bound("workers", low=0),
    "max_steps": {"low": 1, "integer": True, "allow_none": True},
    "max_angle": {"low": 0, "high": 180, "option": "max_angle"},
    "ema_epochs": {"low": 0, "high": 10_000},
    "balance_power": bound("probability"),
    "knn_k": bound("neighbours"),
    "bn_images": {"low": 0, "high": 10_000_000, "integer": True},
    "labels_per_class": {"low": 1, "integer": True, "allow_none": True},
    "label_fraction": {"low": 0, "high": 1, "low_open": True, "allow_none": True},
    "freeze_epochs": {"low": 0, "integer": True},
    "trunk_lr_factor": {"low": 0, "high": 100, "low_open": True},
}

#: prefix of ``--arch`` naming a timm model (``timm:resnet18``, ``timm:convnext_nano``)
TIMM_PREFIX = "timm:"


def check_arch(arch: str, what: str = "--arch") -> str:
    """A torchvision ResNet name or ``timm:NAME``; GalcatError otherwise."""
    if arch in ARCHS or (arch.startswith(TIMM_PREFIX) and len(arch) > len(TIMM_PREFIX)):
        return arch
    raise GalcatError(f"{what} {arch!r} is not one of {', '.join(ARCHS)} or timm:NAME (a timm model)")


def _check(cfg: TrainConfig) -> None:
    choices = {"stage": STAGES, "loss": LOSSES, "miner": MINERS, "schedule": SCHEDULES, "balance": BALANCES,
               "predictor": DML_PREDICTORS}  # fmt: skip
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise GalcatError(f"--{name} {getattr(cfg, name)!r} is not one of {', '.join(allowed)}")
    if cfg.arch is not None:
        check_arch(cfg.arch)
    if cfg.labels_per_class is not None and cfg.label_fraction is not None:
        raise GalcatError("--labels-per-class and --label-fraction: give one of them, not both")
    if cfg.stage == "votes" and (cfg.labels_per_class is not None or cfg.label_fraction is not None):
        raise GalcatError("--labels-per-class / --label-fraction need class labels; --stage votes has none")
    if cfg.precision is not None and cfg.precision not in PRECISIONS:
        raise GalcatError(f"--precision {cfg.precision!r} is not one of {', '.join(PRECISIONS)}")
    if cfg.optimizer is not None and cfg.optimizer not in OPTIMIZERS:
        raise GalcatError(f"--optimizer {cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if cfg.folds < 1:
        raise GalcatError(f"--folds must be >= 1, got {cfg.folds}")
    if cfg.folds == 1 and not 0.0 < cfg.val_fraction < 1.0:
        raise GalcatError(f"--val-fraction must be in (0, 1), got {cfg.val_fraction}")
    if cfg.select_by is not None and cfg.select_by not in SELECT_BY:
        raise GalcatError(f"--select-by {cfg.select_by!r} is not one of {', '.join(SELECT_BY)}")
    if cfg.stage == "votes" and cfg.select_by not in (None, "rmse", "val_loss"):
        raise GalcatError(f"--select-by {cfg.select_by}: --stage votes has only rmse and val_loss")
    if cfg.stage == "dml" and cfg.predictor != "knn" and cfg.loss not in PROXY_LOSSES:
        raise GalcatError(f"--predictor {cfg.predictor}: --loss {cfg.loss} has no proxies; use knn")
    if cfg.predict_turns not in PREDICT_TURNS:
        raise GalcatError(f"--predict-turns must be 1 or 4, got {cfg.predict_turns}")
    check_numbers(cfg, _RANGES)
    if cfg.val_fraction >= 1.0:
        raise GalcatError(f"--val-fraction must be in (0, 1), got {cfg.val_fraction}")


def check_train_config(cfg: TrainConfig) -> TrainConfig:
    """GalcatError naming the option for a bad choice or a value out of range; returns ``cfg``."""
    _check(cfg)
    return cfg


def resolve_config(cfg: TrainConfig, device_type: str, store_image_size: int, mirror_pairs=()) -> TrainConfig:
    """Fill the ``None`` fields from the stage, the device type ('cpu', 'cuda', 'mps') and the scheme.

    ``mirror_pairs``: class pairs that a reflection exchanges (``galcat.schemes.mirror_pairs``);
    flips default to off for such a scheme, and asking for them is an error.
    """
    _check(cfg)
    if mirror_pairs and cfg.flips:
        names = ", ".join("/".join(p) for p in mirror_pairs)
        raise GalcatError(
            f"--flips: scheme {cfg.scheme!r} is handed ({names}); a flip would change the label. "
            "Use --no-flips (rotations keep handedness)"
        )
    accel = device_type != "cpu"
    finetune = cfg.init is not None
    values: dict = {}
    if cfg.arch is None:
        values["arch"] = "resnet50" if accel else "resnet18"
    if cfg.image_size is None:
        values["image_size"] = int(store_image_size)
    if cfg.epochs is None:
        values["epochs"] = 100 if accel else {"dml": 6, "votes": 6}.get(cfg.stage, 20)
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
    if cfg.precision is None:
        values["precision"] = default_precision(device_type)
    if cfg.flips is None:
        values["flips"] = not mirror_pairs
    if cfg.mirror_relabel is None:
        values["mirror_relabel"] = bool(mirror_pairs) and cfg.stage != "votes"
    elif cfg.mirror_relabel and not mirror_pairs:
        raise GalcatError(
            f"--mirror-relabel: scheme {cfg.scheme!r} has no mirror pairs (classes a reflection exchanges)"
        )
    if cfg.patience is None and cfg.schedule == "plateau":
        values["patience"] = 10
    if cfg.select_by is None:
        values["select_by"] = {"votes": "rmse", "dml": "map_at_r"}.get(cfg.stage, "macro_f1")
    return dataclasses.replace(cfg, **values)
