"""``pretrain(PretrainConfig)``: self-supervised contrastive pretraining on unlabelled stores.

Why: labelled galaxies are few, cutouts are many. SimCLR (Chen et al. 2020; on SDSS galaxies
Hayat et al. 2021) learns a trunk that maps two random views of one galaxy close together and
views of different galaxies apart, from images alone; a classifier then fine-tunes from it
(``galcat train --init RUN``). The loss is pytorch-metric-learning's
``SelfSupervisedLoss(NTXentLoss)``; the views are :class:`galcat.store.views.ContrastiveViews`;
the epoch is the training loop's own ``run_epoch``. Labels are ignored; the rows of every
``exclude_stores`` store (matched by ``objid``: e.g. a task's validation galaxies) are left out.

The run directory looks like a one-fold training run: ``config.json``, ``fold0/best.pt`` (lowest
held-out contrastive loss), ``fold0/last.pt`` (resume state), ``fold0/metrics.jsonl``,
``curves.png``, ``summary.json``; rerunning the same command resumes after the last epoch.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from galcat import __version__
from galcat.atomic import atomic_write
from galcat.config import check_same_config, load_config, save_config, to_dict
from galcat.errors import GalcatError
from galcat.model.checkpoint import safe_load, save_checkpoint
from galcat.model.config import check_arch
from galcat.model.device import default_precision, memory_format, resolve_device, seed_everything
from galcat.model.distributed import DistInfo
from galcat.model.steps import recalibrate_batchnorm, run_epoch
from galcat.progress import console, progress_bar
from galcat.ranges import MAX_IMAGE_SIDE, check_numbers

#: held-out share of the pooled rows whose contrastive loss picks the best epoch (at most 1024 rows)
HELD_OUT = 0.05
RESUME_FREE = {"device", "num_workers", "progress", "precision"}


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (``galcat pretrain``)."""

    stores: list[str]
    out: str = "runs/ssl"
    exclude_stores: list[str] = field(default_factory=list)  # rows whose objid is in these are left out
    arch: str | None = None  # default: resnet18 on CPU, resnet50 on an accelerator
    embedding_dim: int = 128
    image_size: int | None = None  # default: the first store's image size
    epochs: int | None = None  # default: 20 on CPU, 100 on an accelerator
    batch_size: int | None = None  # default: 128 on CPU, 512 on an accelerator (negatives per batch)
    lr: float = 1e-3  # Adam, OneCycle schedule
    weight_decay: float = 1e-5
    temperature: float = 0.1  # NT-Xent softmax temperature
    flips: bool = False  # mirror views (off: a mirror changes a spiral's winding)
    max_angle: float = 15.0  # small rotations beyond the 90-degree turns, degrees
    blur: float = 1.0  # largest PSF-like Gaussian sigma, pixels
    noise: float = 0.03  # largest pixel noise sigma (pixels in [0, 1])
    colour: float = 0.05  # sigma of log channel gains
    device: str = "auto"
    precision: str | None = None
    seed: int = 0
    num_workers: int = 0
    max_steps: int | None = None  # cap on batches per epoch (smoke tests, benchmarks)
    progress: bool | None = None
    schedule: str = "onecycle"  # read by galcat.model.schedule.make_schedulers
    plateau_patience: int = 3


_RANGES = {
    "embedding_dim": {"low": 2, "high": 65536, "integer": True},
    "image_size": {"low": 8, "high": MAX_IMAGE_SIDE, "integer": True, "allow_none": True},
    "epochs": {"low": 1, "high": 100_000, "integer": True, "allow_none": True},
    "batch_size": {"low": 2, "high": 1 << 20, "integer": True, "allow_none": True},
    "lr": {"low": 0, "high": 10, "low_open": True},
    "weight_decay": {"low": 0, "high": 1},
    "temperature": {"low": 0, "high": 10, "low_open": True},
    "max_angle": {"low": 0, "high": 180},
    "blur": {"low": 0, "high": 20},
    "noise": {"low": 0, "high": 1},
    "colour": {"low": 0, "high": 1},
    "seed": {"low": 0, "high": 2**32 - 1, "integer": True},
    "num_workers": {"low": 0, "high": 256, "integer": True},
    "max_steps": {"low": 1, "integer": True, "allow_none": True},
}


class ContrastiveObjective(nn.Module):
    """NT-Xent over a batch of view pairs: the first half of the embeddings against the second."""

    def __init__(self, temperature: float):
        super().__init__()
        from pytorch_metric_learning.losses import NTXentLoss, SelfSupervisedLoss

        self.loss = SelfSupervisedLoss(NTXentLoss(temperature=temperature), symmetric=True)

    def forward(self, out: dict, batch: dict, train: bool = True) -> torch.Tensor:
        first, second = out["embedding"].float().chunk(2)
        return self.loss(first, second)


@dataclass
class PooledRows:
    """The rows of each store that pretraining may use, split into training and held-out rows."""

    train: list[tuple[str, np.ndarray]]
    held_out: list[tuple[str, np.ndarray]]
    image_size: int


def pooled_rows(cfg: PretrainConfig) -> PooledRows:
    """Every row of every store, minus rows whose ``objid`` is in an excluded store."""
    from galcat.store import open_store

    excluded: set[str] = set()
    for path in cfg.exclude_stores:
        excluded |= set(np.asarray(open_store(path).catalogue["objid"]).astype(str))
    rng = np.random.default_rng([cfg.seed, 7])
    train, held, size = [], [], None
    for path in cfg.stores:
        store = open_store(path)
        size = size or int(store.image_shape[0])
        ids = np.asarray(store.catalogue["objid"]).astype(str)
        rows = np.flatnonzero(~np.isin(ids, list(excluded))) if excluded else np.arange(len(ids))
        rows = rng.permutation(rows)
        n_held = min(int(round(HELD_OUT * len(rows))), 1024 // len(cfg.stores)) if len(rows) >= 40 else 0
        train.append((str(path), np.sort(rows[n_held:])))
        if n_held:
            held.append((str(path), np.sort(rows[:n_held])))
    if sum(len(r) for _, r in train) < 2:
        raise GalcatError(f"{', '.join(cfg.stores)}: fewer than 2 images left to pretrain on")
    return PooledRows(train=train, held_out=held, image_size=size)


class PooledBatches:
    """The batches of every store, interleaved in a seeded random order (one epoch)."""

    def __init__(self, parts, batch_size: int, seed: int, shuffle: bool, num_workers: int = 0):
        from galcat.model.data import make_batches
        from galcat.store.loader import batch_count

        self.loaders, order = [], []
        for i, (path, rows) in enumerate(parts):
            drop = len(rows) >= batch_size
            self.loaders.append(
                make_batches(path, rows, batch_size, shuffle, seed + i, None, False, drop, None, num_workers)
            )
            order += [i] * batch_count(len(rows), batch_size, drop)
        self.order = np.random.default_rng(seed).permutation(order) if shuffle else np.asarray(order)

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        iterators = [iter(loader) for loader in self.loaders]
        for i in self.order:
            batch = next(iterators[i], None)
            if batch is not None and batch["images"].shape[0] >= 2:
                yield batch


def resolve_pretrain_config(cfg: PretrainConfig, device_type: str, image_size: int) -> PretrainConfig:
    accel = device_type != "cpu"
    values = {
        "arch": cfg.arch or ("resnet50" if accel else "resnet18"),
        "image_size": cfg.image_size or image_size,
        "epochs": cfg.epochs or (100 if accel else 20),
        "batch_size": cfg.batch_size or (512 if accel else 128),
        "precision": cfg.precision or default_precision(device_type),
    }
    return dataclasses.replace(cfg, **values)


def check_pretrain_config(cfg: PretrainConfig) -> PretrainConfig:
    if not cfg.stores:
        raise GalcatError("--store: pretraining needs at least one store")
    if cfg.arch is not None:
        check_arch(cfg.arch)
    check_numbers(cfg, _RANGES)
    return cfg


def pretrain(cfg: PretrainConfig) -> dict:
    """Pretrain a trunk + embedding head with SimCLR; returns the summary (also ``summary.json``)."""
    from galcat.model.curves import write_curves
    from galcat.model.data import make_augment
    from galcat.model.networks import GalaxyNet
    from galcat.model.schedule import make_schedulers
    from galcat.paths import check_writable, refuse_overwriting_inputs
    from galcat.store.views import ContrastiveViews
    from galcat.threads import configure as configure_threads

    check_pretrain_config(cfg)
    configure_threads()
    refuse_overwriting_inputs({"--out": cfg.out}, {"--store": cfg.stores[0]})
    check_writable(cfg.out, kind="folder")
    absolute = lambda paths: [str(Path(p).expanduser().resolve()) for p in paths]  # noqa: E731
    cfg = dataclasses.replace(cfg, stores=absolute(cfg.stores), exclude_stores=absolute(cfg.exclude_stores))
    device = resolve_device(cfg.device)
    parts = pooled_rows(cfg)
    cfg = resolve_pretrain_config(cfg, device.type, parts.image_size)
    out, fold_dir = Path(cfg.out), Path(cfg.out) / "fold0"
    _write_or_check(cfg, out / "config.json")
    seed_everything(cfg.seed)
    model = GalaxyNet(arch=cfg.arch, embedding_dim=cfg.embedding_dim, image_size=cfg.image_size)
    model = model.to(device, memory_format=memory_format(device, cfg.precision))
    objective = ContrastiveObjective(cfg.temperature).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_steps = len(PooledBatches(parts.train, cfg.batch_size, cfg.seed, True))
    n_steps = max(1, min(n_steps, cfg.max_steps or n_steps))
    schedulers, _ = make_schedulers(cfg, [optimizer], n_steps)
    state = {"epoch": -1, "best_loss": None, "best_epoch": -1}
    last = fold_dir / "last.pt"
    if last.exists():
        saved = safe_load(last)
        model.load_state_dict(saved["state_dict"])
        optimizer.load_state_dict(saved["optimizers"][0])
        schedulers[0].load_state_dict(saved["schedulers"][0])
        state.update(json.loads(saved["loop_state"]))
        console.print(f"pretrain: resuming after epoch {state['epoch'] + 1}")
    views = ContrastiveViews(
        cfg.image_size, cfg.flips, cfg.max_angle, blur=cfg.blur, noise=cfg.noise, colour=cfg.colour
    ).to(device)
    plain = make_augment(cfg.image_size, False).to(device)
    n_train = sum(len(r) for _, r in parts.train)
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        seed_everything(cfg.seed + epoch)
        loader = PooledBatches(parts.train, cfg.batch_size, cfg.seed + 1000 * epoch, True, cfg.num_workers)
        with progress_bar(disable=None if cfg.progress is None else not cfg.progress, status=True) as bar:
            task = bar.add_task(f"pretrain epoch {epoch + 1}/{cfg.epochs}", total=n_steps, status="")

            def on_step(loss, task=task, bar=bar):
                bar.update(task, advance=1, status=f"loss {loss:.4f}")

            started = time.perf_counter()
            stats = run_epoch(
                model, objective, loader, views, [optimizer], device, DistInfo(), cfg.max_steps, on_step,
                schedulers, precision=cfg.precision,
            )  # fmt: skip
        stats["train_seconds"] = round(time.perf_counter() - started, 2)
        bn = PooledBatches(parts.train, cfg.batch_size, cfg.seed + epoch, True)
        recalibrate_batchnorm(model, bn, plain, device, 1024, cfg.precision)
        record = {"fold": 0, "epoch": epoch, **stats, "lr": optimizer.param_groups[0]["lr"]}
        if parts.held_out:
            record["val_loss"] = held_out_loss(model, objective, parts.held_out, views, device, cfg)
        loss = record.get("val_loss", record["train_loss"])
        better = state["best_loss"] is None or loss < state["best_loss"]
        state["epoch"] = epoch
        if better:
            state.update(best_loss=loss, best_epoch=epoch)
        payload = _payload(model, cfg, epoch, n_train)
        if better:
            save_checkpoint(payload, fold_dir / "best.pt")
        payload.update(
            optimizers=[optimizer.state_dict()],
            schedulers=[s.state_dict() for s in schedulers],
            loop_state=json.dumps(state),
        )
        save_checkpoint(payload, last)
        with open(fold_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        shown = " ".join(f"{k}={v:.4g}" for k, v in record.items() if k not in ("fold", "epoch", "steps"))
        console.print(f"pretrain epoch {epoch + 1}: {shown}" + (" [green]*best*[/green]" if better else ""))
    summary = {
        "stage": "pretrain",
        "method": "simclr",
        "n_images": n_train,
        "n_held_out": sum(len(r) for _, r in parts.held_out),
        "best_epoch": state["best_epoch"],
        "best_loss": state["best_loss"],
        "epochs_run": state["epoch"] + 1,
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_curves(out, "val_loss" if parts.held_out else "train_loss", {0: state["best_epoch"]})
    return summary


@torch.no_grad()
def held_out_loss(model, objective, parts, views, device, cfg: PretrainConfig) -> float:
    """Contrastive loss of the held-out rows with views drawn from a fixed seed (comparable per epoch)."""
    from galcat.model.device import autocast

    model.eval()
    seed_everything(cfg.seed + 99)
    total, n = 0.0, 0
    for batch in PooledBatches(parts, cfg.batch_size, cfg.seed, False):
        x = views(batch["images"].to(device))
        with autocast(device, cfg.precision):
            out = model(x)
        total += float(objective(out, batch)) * batch["images"].shape[0]
        n += batch["images"].shape[0]
    return total / max(n, 1)


def _payload(model, cfg: PretrainConfig, epoch: int, n_images: int) -> dict:
    """A galcat checkpoint (``weights_only`` loadable) with no classes: usable by ``--init``."""
    return {
        **model.describe(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "stage": "pretrain",
        "store_fingerprint": "",
        "galcat_version": __version__,
        "epoch": int(epoch),
        "n_images": int(n_images),
        "train_indices": torch.zeros(0, dtype=torch.int64),
        "val_indices": torch.zeros(0, dtype=torch.int64),
    }


def _write_or_check(cfg: PretrainConfig, path: Path) -> None:
    if path.exists():
        check_same_config(path, to_dict(load_config(PretrainConfig, path)), to_dict(cfg), RESUME_FREE)
    save_config(cfg, path)
