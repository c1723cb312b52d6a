"""``train(TrainConfig)``: folds -> epochs -> checkpoints, metrics log and summary.

Resumable by design: every epoch ends with ``fold{k}/last.pt`` (weights, optimisers, schedulers,
early-stopping state); rerunning the same command continues from there and skips finished
folds (``fold{k}/result.json``). Seeds derive from (seed, fold, epoch), so a resumed run draws
the same batches and augmentations as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from galcat.atomic import atomic_write
from galcat.errors import GalcatError
from galcat.model import distributed as D
from galcat.model.averaging import make_average
from galcat.model.builders import (
    build_model,
    checkpoint_payload,
    class_weights,
    cpu_state_dict,
    make_optimizers,
    set_trunk_trainable,
)
from galcat.model.checkpoint import safe_load, save_checkpoint
from galcat.model.config import PROXY_LOSSES, TrainConfig, check_train_config, resolve_config
from galcat.model.curves import write_curves
from galcat.model.data import MirrorRelabel, make_augment, make_batches, open_training_data
from galcat.model.device import memory_format, resolve_device, seed_everything
from galcat.model.encoders import Encoder, is_encoder_source, open_encoder
from galcat.model.folds import label_subset, make_folds
from galcat.model.losses import proxy_view, set_proxies
from galcat.model.prototypes import (
    CENTROID_IMAGES_PER_CLASS,
    anchor_to_centroids,
    centroid_rows,
    class_centroids,
    save_reference,
)
from galcat.model.rundir import absolute_paths, check_train_paths, load_init, write_or_check_config
from galcat.model.schedule import improved, make_schedulers, score, steps_per_epoch
from galcat.model.steps import Objective, recalibrate_batchnorm, run_epoch, validate
from galcat.progress import console, progress_bar
from galcat.threads import configure as configure_threads

#: The loop state of a fold before its first epoch (saved in last.pt as ``loop_state``).
FRESH_STATE = {"epoch": -1, "best_score": None, "best_epoch": -1, "bad_epochs": 0, "best_metrics": {}}


@dataclass
class TrainResult:
    out: Path
    config: TrainConfig
    folds: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def train(cfg: TrainConfig) -> TrainResult:
    """Train every fold of ``cfg`` and write ``cfg.out`` (see docs/architecture.md)."""
    check_train_config(cfg)  # bad values fail before the store is opened
    configure_threads()
    check_train_paths(cfg)
    # config.json records absolute paths, so the run can be evaluated or embedded from anywhere
    cfg = dataclasses.replace(cfg, **absolute_paths(cfg))
    device = resolve_device(cfg.device)
    info = D.setup(device)
    device = D.device_for(device, info)
    try:
        data = open_training_data(cfg.store, cfg.stage, cfg.scheme)
        cfg, encoder = _open_encoder(cfg)
        cfg = resolve_config(
            dataclasses.replace(cfg, scheme=data.scheme), device.type, data.image_size, data.mirror_pairs
        )
        out = Path(cfg.out)
        # every check that can refuse the run comes before config.json: a refused command leaves nothing
        folds = make_folds(data.rows, data.labels, cfg.folds, cfg.val_fraction, cfg.seed)
        if info.is_main:
            write_or_check_config(cfg, out)
        D.barrier(info)
        results = []
        for k, (train_rows, val_rows) in enumerate(folds):
            train_rows = _label_subset(cfg, data, train_rows, k)
            init = encoder if encoder is not None else load_init(cfg, k, val_rows, data.fingerprint)
            results.append(_train_fold(cfg, data, k, train_rows, val_rows, init, device, info))
        summary = summarise(results, cfg)
        if info.is_main:
            atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
            write_curves(out, cfg.select_by, {r["fold"]: r["best_epoch"] for r in results})
        return TrainResult(out=out, config=cfg, folds=results, summary=summary)
    finally:
        D.cleanup(info)


@dataclass
class _Fold:
    """Everything one fold's training holds: the parts below read and update it."""

    cfg: TrainConfig
    data: object
    k: int
    train_rows: np.ndarray
    val_rows: np.ndarray
    device: torch.device
    info: object
    fold_dir: Path
    model: torch.nn.Module
    objective: torch.nn.Module
    optimizers: list
    schedulers: list
    per_batch: bool
    average: object  # the EMA (galcat.model.averaging) or None
    state: dict = field(default_factory=lambda: dict(FRESH_STATE))
    #: called after every optimiser step with the batch loss, in order (the EMA update is one)
    after_step: list = field(default_factory=list)

    @property
    def judged(self) -> torch.nn.Module:
        """The network validated and saved: the EMA of the weights when there is one."""
        return self.model if self.average is None else self.average.module


def _train_fold(cfg, data, k, train_rows, val_rows, init, device, info) -> dict:
    """Train one fold (resumed from ``last.pt`` when there is one); returns its ``result.json``."""
    result_path = Path(cfg.out) / f"fold{k}" / "result.json"
    if result_path.exists():
        console.print(f"fold {k}: already finished, skipped")
        return json.loads(result_path.read_text())
    fold = _build_fold(cfg, data, k, train_rows, val_rows, init, device, info)
    if fold.average is not None:
        fold.after_step.append(lambda loss, fold=fold: fold.average.update_parameters(fold.model))
    _resume(fold, init)
    epochs = _Epochs(fold)
    for epoch in range(fold.state["epoch"] + 1, cfg.epochs):
        if cfg.patience is not None and fold.state["bad_epochs"] >= cfg.patience:
            break
        record, metrics, better = epochs.run(epoch)
        _checkpoint(fold, epoch, record, metrics, better)
    return _finish(fold, result_path)


def _build_fold(cfg, data, k, train_rows, val_rows, init, device, info) -> _Fold:
    seed_everything(cfg.seed + 1000 * k)
    model = build_model(cfg, data, init).to(device, memory_format=memory_format(device, cfg.precision))
    weights = class_weights(cfg, data, train_rows)
    objective = Objective(cfg, n_classes=len(data.class_names), info=info, class_weights=weights).to(device)
    optimizers = make_optimizers(cfg, model, objective)
    n_steps = steps_per_epoch(cfg, len(D.shard(train_rows, info, cfg.seed)))
    schedulers, per_batch = make_schedulers(cfg, optimizers, n_steps)
    average = make_average(model, cfg.ema_epochs, n_steps)
    return _Fold(
        cfg, data, k, train_rows, val_rows, device, info, Path(cfg.out) / f"fold{k}", model, objective,
        optimizers, schedulers, per_batch, average,
    )  # fmt: skip


def _resume(fold: _Fold, init) -> None:
    """Continue from ``last.pt`` (weights, optimisers, schedulers, loop state, the EMA), or start a
    proxy loss initialised from an earlier stage at that stage's class centroids."""
    cfg, last = fold.cfg, fold.fold_dir / "last.pt"
    if last.exists():
        saved = safe_load(last)
        fold.model.load_state_dict(saved["state_dict"])
        fold.objective.load_state_dict(saved["objective"])
        for opt, s in zip(fold.optimizers, saved["optimizers"], strict=True):
            opt.load_state_dict(s)
        for sch, s in zip(fold.schedulers, saved["schedulers"], strict=True):
            sch.load_state_dict(s)
        fold.state.update(json.loads(saved["loop_state"]))
        if fold.average is not None:
            fold.average.load_state_dict(saved["average"])
        if fold.info.is_main:
            console.print(f"fold {fold.k}: resuming after epoch {fold.state['epoch']}")
    elif isinstance(init, dict) and cfg.stage == "dml" and cfg.loss in PROXY_LOSSES:
        labels = fold.data.labels[np.searchsorted(fold.data.rows, fold.train_rows)]
        seed = [cfg.seed, fold.k]
        rows = centroid_rows(np.asarray(fold.train_rows), labels, CENTROID_IMAGES_PER_CLASS, seed)
        set_proxies(fold.objective.dml_loss, class_centroids(fold.model, cfg, fold.data, rows, fold.device))
    if fold.info.is_main:
        _trim_log(fold.fold_dir / "metrics.jsonl", fold.state["epoch"])


class _Epochs:
    """One fold's epochs: train (with the after-step hooks), re-estimate BatchNorm, validate."""

    def __init__(self, fold: _Fold):
        cfg, data, device = fold.cfg, fold.data, fold.device
        self.fold = fold
        frozen = cfg.freeze_trunk or cfg.freeze_epochs > 0  # DDP: some parameters may get no gradient
        self.net = D.wrap_model(fold.model, fold.info, device, find_unused=frozen)
        if cfg.compile:
            self.net = torch.compile(self.net)
        self.votes = cfg.stage == "votes"
        self.scheme = None if self.votes else data.scheme
        self.train_aug = make_augment(
            cfg.image_size, True, cfg.flips, cfg.rot90, cfg.max_angle, data.mirror_pairs
        ).to(device)
        self.relabel = MirrorRelabel(data.class_names, data.mirror_pairs) if cfg.mirror_relabel else None
        self.balance = cfg.balance_power if cfg.balance == "sampler" and not self.votes else 0.0
        self.val_aug = make_augment(cfg.image_size, False).to(device)
        self.pin = device.type == "cuda"
        self.val_loader = self._batches(fold.val_rows, cfg.seed)
        # a k-NN model is scored as it will predict: validation rows vote among the training rows
        knn = cfg.stage == "dml" and getattr(fold.model, "predictor", None) == "knn"
        self.reference_loader = self._batches(fold.train_rows, cfg.seed) if knn else None

    def _batches(self, rows, seed):
        cfg = self.fold.cfg
        return make_batches(
            self.fold.data, rows, cfg.batch_size, False, seed, self.scheme, self.votes, False, None,
            cfg.num_workers, self.pin,
        )  # fmt: skip

    def run(self, epoch: int) -> tuple[dict, dict, bool]:
        """Train and validate one epoch: the metrics.jsonl record, the validation metrics, and
        whether the epoch is the best so far."""
        fold, cfg = self.fold, self.fold.cfg
        stats = self._train(epoch)
        started = time.perf_counter()
        judged = fold.judged
        # the same seeded rows on every rank, so every rank validates identical statistics
        rng = np.random.default_rng([cfg.seed, fold.k, epoch])
        bn_rows = rng.permutation(fold.train_rows)[: cfg.bn_images]
        epoch_seed = cfg.seed + 1000 * fold.k + epoch
        bn_loader = self._batches(bn_rows, epoch_seed)
        recalibrate_batchnorm(judged, bn_loader, self.val_aug, fold.device, cfg.bn_images, cfg.precision)
        if cfg.predictor == "centroid" and fold.model.predictor == "proxy":
            loss_view = proxy_view(fold.objective.dml_loss)
            seed = [cfg.seed, fold.k, epoch]
            anchor_to_centroids(judged, cfg, fold.data, fold.train_rows, fold.device, seed, loss_view)
        else:
            fold.objective.sync_predictor(judged)
        metrics = validate(
            judged, fold.objective, self.val_loader, self.val_aug, fold.device, cfg.stage, cfg.precision,
            reference=self.reference_loader,
        )  # fmt: skip
        stats["val_seconds"] = round(time.perf_counter() - started, 2)
        if not fold.per_batch:
            for sch in fold.schedulers:
                sch.step(metrics["val_loss"])
        lr = fold.optimizers[0].param_groups[0]["lr"]
        record = {"fold": fold.k, "epoch": epoch, **stats, **metrics, "lr": lr}
        better = improved(metrics, cfg.select_by, fold.state["best_score"])
        fold.state["epoch"] = epoch
        if better:
            fold.state.update(
                best_score=score(metrics, cfg.select_by), best_epoch=epoch, bad_epochs=0, best_metrics=metrics
            )
        else:
            fold.state["bad_epochs"] += 1
        return record, metrics, better

    def _train(self, epoch: int) -> dict:
        fold, cfg = self.fold, self.fold.cfg
        set_trunk_trainable(fold.model, not cfg.freeze_trunk and epoch >= cfg.freeze_epochs)
        epoch_seed = cfg.seed + 1000 * fold.k + epoch
        seed_everything(epoch_seed)
        rows = D.shard(fold.train_rows, fold.info, epoch_seed)
        drop_last = len(rows) >= 2 * cfg.batch_size
        loader = make_batches(
            fold.data, rows, cfg.batch_size, True, epoch_seed, self.scheme, self.votes, drop_last,
            None if self.votes else cfg.m_per_class, cfg.num_workers, self.pin, self.balance,
        )  # fmt: skip
        show = (None if cfg.progress is None else cfg.progress) if fold.info.is_main else False
        with progress_bar(disable=None if show is None else not show, status=True) as bar:
            total = min(_safe_len(loader), cfg.max_steps or 10**12)
            task = bar.add_task(f"fold {fold.k} epoch {epoch + 1}/{cfg.epochs}", total=total, status="")
            hooks = [*fold.after_step, lambda loss: bar.update(task, advance=1, status=f"loss {loss:.4f}")]

            def after_step(loss: float) -> None:
                for hook in hooks:
                    hook(loss)

            started = time.perf_counter()
            stats = run_epoch(
                self.net, fold.objective, loader, self.train_aug, fold.optimizers, fold.device, fold.info,
                cfg.max_steps, after_step, fold.schedulers if fold.per_batch else (), self.relabel,
                precision=cfg.precision,
            )  # fmt: skip
        stats["train_seconds"] = round(time.perf_counter() - started, 2)
        return stats


def _checkpoint(fold: _Fold, epoch: int, record: dict, metrics: dict, better: bool) -> None:
    """``best.pt`` when the epoch is the best so far, ``last.pt`` (all that resuming needs) and the
    metrics.jsonl line, on the main rank; then every rank meets."""
    cfg, info = fold.cfg, fold.info
    if info.is_main:
        payload = checkpoint_payload(fold.judged, cfg, fold.data, fold.train_rows, fold.val_rows, epoch)
        payload["val_metrics"] = json.dumps(metrics)
        if better:
            save_checkpoint(payload, fold.fold_dir / "best.pt")
        if fold.average is not None:  # resuming needs the live weights and the average
            payload.update(state_dict=cpu_state_dict(fold.model), average=fold.average.state_dict())
        payload.update(
            objective=fold.objective.state_dict(),
            optimizers=[o.state_dict() for o in fold.optimizers],
            schedulers=[s.state_dict() for s in fold.schedulers],
            loop_state=json.dumps(fold.state),
        )
        save_checkpoint(payload, fold.fold_dir / "last.pt")
        with open(fold.fold_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
    D.barrier(info)
    if info.is_main:
        console.print(_format_record(record, better))


def _finish(fold: _Fold, result_path: Path) -> dict:
    """Save the k-NN reference of the best epoch and the fold's ``result.json``."""
    cfg, info, state = fold.cfg, fold.info, fold.state
    if info.is_main and fold.model.predictor == "knn" and state["best_epoch"] >= 0:
        save_reference(fold.model, cfg, fold.data, fold.train_rows, fold.fold_dir, fold.device)
    result = {
        "fold": fold.k,
        "selected_by": cfg.select_by,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"] + 1,
        "n_train": int(len(fold.train_rows)),
        "n_val": int(len(fold.val_rows)),
        **state["best_metrics"],
    }
    if info.is_main:
        atomic_write(result_path, json.dumps(result, indent=2) + "\n")
    D.barrier(info)
    return result


def _safe_len(loader) -> int:
    try:
        return len(loader)
    except TypeError:
        return 0


def _trim_log(path: Path, last_epoch: int) -> None:
    """Drop log lines of epochs after the last checkpoint (written before an interruption)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in lines if json.loads(ln)["epoch"] <= last_epoch]
    if len(keep) != len(lines):
        atomic_write(path, "".join(ln + "\n" for ln in keep))


def _format_record(rec: dict, improved: bool) -> str:
    skip = {"fold", "epoch", "steps"}
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items() if k not in skip]
    mark = " [green]*best*[/green]" if improved else ""
    return f"fold {rec['fold']} epoch {rec['epoch'] + 1}: " + " ".join(parts) + mark


def summarise(results: list[dict], cfg: TrainConfig) -> dict:
    """Each best-epoch metric over folds (:func:`galcat.metrics.summary.summarise_folds`)."""
    from galcat.metrics.summary import summarise_folds

    stats = summarise_folds(results)
    return {
        "stage": cfg.stage,
        "init": cfg.init,  # the encoder the run started from (None: random weights)
        "arch": cfg.arch,
        "loss": cfg.loss if cfg.stage == "dml" else None,
        "miner": cfg.miner if cfg.stage == "dml" else None,
        "n_folds": len(results),
        "metrics": stats,
        "folds": results,
    }


def _open_encoder(cfg: TrainConfig) -> tuple[TrainConfig, Encoder | None]:
    """An ``--init`` naming encoder weights (a file or ``hf_hub:``) rather than a galcat run: its
    architecture and input size become the run's defaults."""
    if cfg.init is None or not is_encoder_source(cfg.init):
        return cfg, None
    encoder = open_encoder(cfg.init, cfg.arch)
    values = {}
    if encoder.arch is not None:
        if cfg.arch is not None and cfg.arch != encoder.arch:
            raise GalcatError(f"--arch {cfg.arch}: --init {cfg.init} is a {encoder.arch}")
        values["arch"] = encoder.arch
    if cfg.image_size is None and encoder.input_size:
        values["image_size"] = encoder.input_size
    return dataclasses.replace(cfg, **values), encoder


def _label_subset(cfg: TrainConfig, data, train_rows: np.ndarray, k: int) -> np.ndarray:
    """``--labels-per-class`` / ``--label-fraction``: the fold's training rows cut, seeded per fold."""
    if cfg.labels_per_class is None and cfg.label_fraction is None:
        return train_rows
    labels = data.labels[np.searchsorted(data.rows, train_rows)]
    rows = label_subset(
        train_rows, labels, data.class_names, cfg.labels_per_class, cfg.label_fraction, cfg.seed + 1000 * k
    )
    console.print(f"[dim]fold {k}: training on {len(rows)} of {len(train_rows)} labelled rows[/dim]")
    return rows
