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
from galcat.config import load_config, save_config, to_dict
from galcat.errors import GalcatError
from galcat.model import distributed as D
from galcat.model.averaging import make_average
from galcat.model.builders import (
    build_model,
    checkpoint_payload,
    class_weights,
    cpu_state_dict,
    make_optimizers,
)
from galcat.model.checkpoint import load_checkpoint, resolve_checkpoint_path, safe_load, save_checkpoint
from galcat.model.config import PROXY_LOSSES, TrainConfig, check_train_config, resolve_config
from galcat.model.curves import write_curves
from galcat.model.data import MirrorRelabel, make_augment, make_batches, open_training_data
from galcat.model.device import memory_format, resolve_device, seed_everything
from galcat.model.folds import make_folds
from galcat.model.losses import proxy_view, set_proxies
from galcat.model.prototypes import (
    CENTROID_IMAGES_PER_CLASS,
    anchor_to_centroids,
    centroid_rows,
    class_centroids,
    save_reference,
)
from galcat.model.schedule import improved, make_schedulers, score, steps_per_epoch
from galcat.model.steps import Objective, recalibrate_batchnorm, run_epoch, validate
from galcat.progress import console, progress_bar

#: Config fields that may change between an interrupted run and its resumption.
RESUME_FREE = {"device", "compile", "num_workers", "progress", "precision"}


@dataclass
class TrainResult:
    out: Path
    config: TrainConfig
    folds: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def train(cfg: TrainConfig) -> TrainResult:
    """Train every fold of ``cfg`` and write ``cfg.out`` (see docs/architecture.md)."""
    check_train_config(cfg)  # bad values fail before the store is opened
    _check_train_paths(cfg)
    # config.json records absolute paths, so the run can be evaluated or embedded from anywhere
    cfg = dataclasses.replace(cfg, **_absolute_paths(cfg))
    device = resolve_device(cfg.device)
    info = D.setup(device)
    device = D.device_for(device, info)
    try:
        data = open_training_data(cfg.store, cfg.stage, cfg.scheme)
        cfg = resolve_config(
            dataclasses.replace(cfg, scheme=data.scheme), device.type, data.image_size, data.mirror_pairs
        )
        out = Path(cfg.out)
        if info.is_main:
            _write_or_check_config(cfg, out)
        D.barrier(info)
        folds = make_folds(data.rows, data.labels, cfg.folds, cfg.val_fraction, cfg.seed)
        results = []
        for k, (train_rows, val_rows) in enumerate(folds):
            init = _load_init(cfg, k, val_rows, data.fingerprint)
            results.append(_train_fold(cfg, data, k, train_rows, val_rows, init, device, info))
        summary = summarise(results, cfg)
        if info.is_main:
            atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
            write_curves(out, cfg.select_by, {r["fold"]: r["best_epoch"] for r in results})
        return TrainResult(out=out, config=cfg, folds=results, summary=summary)
    finally:
        D.cleanup(info)


def _check_train_paths(cfg: TrainConfig) -> None:
    """The run directory must not hold the checkpoint it starts from (training would replace it)."""
    from galcat.paths import check_writable, is_within, refuse_overwriting_inputs

    refuse_overwriting_inputs({"--out": cfg.out}, {"--store": cfg.store, "--init": cfg.init})
    if cfg.init and is_within(cfg.init, cfg.out):
        raise GalcatError(
            f"{cfg.out}: --out holds the --init checkpoint ({cfg.init}); training would overwrite it, "
            "choose a new run directory"
        )
    check_writable(cfg.out)


def _absolute_paths(cfg: TrainConfig) -> dict:
    paths = {"store": cfg.store, "init": cfg.init, "weights": cfg.weights}
    return {k: str(Path(v).expanduser().resolve()) for k, v in paths.items() if v and "://" not in str(v)}


def _write_or_check_config(cfg: TrainConfig, out: Path) -> None:
    """A run directory belongs to one config; resuming with another one is a user error."""
    path = out / "config.json"
    if path.exists():
        saved = load_config(TrainConfig, path)  # runs saved before paths were absolute: resolve them
        old = to_dict(dataclasses.replace(saved, **_absolute_paths(saved)))
        new = to_dict(cfg)
        diff = [k for k in new if k not in RESUME_FREE and old.get(k) != new[k]]
        if diff:
            raise GalcatError(
                f"{path}: run directory holds a different configuration ({', '.join(diff)} differ); "
                "use a new --out or the same options to resume"
            )
    save_config(cfg, path)


def _load_init(cfg: TrainConfig, k: int, val_rows: np.ndarray, fingerprint: str) -> dict | None:
    """The checkpoint that initialises fold ``k``.

    From a run directory made on the same store with the same split, fold ``k`` starts from that
    run's fold ``k`` (so no validation row of this fold was ever trained on); otherwise from
    fold 0's best checkpoint (or the named .pt), as documented for ``--init``.
    """
    if cfg.init is None:
        return None
    path, payload = resolve_checkpoint_path(cfg.init), None
    same_fold = Path(cfg.init) / f"fold{k}" / "best.pt"
    if k > 0 and same_fold.is_file():
        candidate = load_checkpoint(same_fold)
        same_split = np.array_equal(np.asarray(candidate.get("val_indices", [])), val_rows)
        if candidate.get("store_fingerprint") == fingerprint and same_split:
            path, payload = same_fold, candidate
    payload = payload if payload is not None else load_checkpoint(path)
    console.print(f"[dim]fold {k}: init from {path} ({payload.get('stage')}, {payload.get('arch')})[/dim]")
    return payload


def _train_fold(cfg, data, k, train_rows, val_rows, init, device, info) -> dict:
    fold_dir = Path(cfg.out) / f"fold{k}"
    result_path = fold_dir / "result.json"
    if result_path.exists():
        console.print(f"fold {k}: already finished, skipped")
        return json.loads(result_path.read_text())
    seed_everything(cfg.seed + 1000 * k)
    model = build_model(cfg, data, init).to(device, memory_format=memory_format(device, cfg.precision))
    weights = class_weights(cfg, data, train_rows)
    objective = Objective(cfg, n_classes=len(data.class_names), info=info, class_weights=weights).to(device)
    optimizers = make_optimizers(cfg, model, objective)
    n_steps = steps_per_epoch(cfg, len(D.shard(train_rows, info, cfg.seed)))
    schedulers, per_batch = make_schedulers(cfg, optimizers, n_steps)
    average = make_average(model, cfg.ema_epochs, n_steps)
    judged = model if average is None else average.module  # the network validated and saved
    state = {"epoch": -1, "best_score": None, "best_epoch": -1, "bad_epochs": 0, "best_metrics": {}}
    last = fold_dir / "last.pt"
    if last.exists():
        saved = safe_load(last)
        model.load_state_dict(saved["state_dict"])
        objective.load_state_dict(saved["objective"])
        for opt, s in zip(optimizers, saved["optimizers"], strict=True):
            opt.load_state_dict(s)
        for sch, s in zip(schedulers, saved["schedulers"], strict=True):
            sch.load_state_dict(s)
        state.update(json.loads(saved["loop_state"]))
        if average is not None:
            average.load_state_dict(saved["average"])
        if info.is_main:
            console.print(f"fold {k}: resuming after epoch {state['epoch']}")
    elif init is not None and cfg.stage == "dml" and cfg.loss in PROXY_LOSSES:
        labels = data.labels[np.searchsorted(data.rows, train_rows)]
        rows = centroid_rows(np.asarray(train_rows), labels, CENTROID_IMAGES_PER_CLASS, [cfg.seed, k])
        set_proxies(objective.dml_loss, class_centroids(model, cfg, data, rows, device))
    if info.is_main:
        _trim_log(fold_dir / "metrics.jsonl", state["epoch"])

    net = D.wrap_model(model, info, device)
    if cfg.compile:
        net = torch.compile(net)
    votes = cfg.stage == "votes"
    scheme = None if votes else data.scheme
    train_aug = make_augment(cfg.image_size, True, cfg.flips, cfg.rot90, cfg.max_angle, data.mirror_pairs).to(
        device
    )
    relabel = MirrorRelabel(data.class_names, data.mirror_pairs) if cfg.mirror_relabel else None
    balance = cfg.balance_power if cfg.balance == "sampler" and not votes else 0.0
    val_aug = make_augment(cfg.image_size, False).to(device)
    pin = device.type == "cuda"
    val_loader = make_batches(
        data, val_rows, cfg.batch_size, False, cfg.seed, scheme, votes, False, None, cfg.num_workers, pin
    )
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        if cfg.patience is not None and state["bad_epochs"] >= cfg.patience:
            break
        epoch_seed = cfg.seed + 1000 * k + epoch
        seed_everything(epoch_seed)
        rows = D.shard(train_rows, info, epoch_seed)
        drop_last = len(rows) >= 2 * cfg.batch_size
        loader = make_batches(
            data,
            rows,
            cfg.batch_size,
            True,
            epoch_seed,
            scheme,
            votes,
            drop_last,
            None if votes else cfg.m_per_class,
            cfg.num_workers,
            pin,
            balance,
        )
        show = (None if cfg.progress is None else cfg.progress) if info.is_main else False
        with progress_bar(disable=None if show is None else not show, status=True) as bar:
            total = min(_safe_len(loader), cfg.max_steps or 10**12)
            task = bar.add_task(f"fold {k} epoch {epoch + 1}/{cfg.epochs}", total=total, status="")

            def on_step(loss, task=task, bar=bar):
                if average is not None:
                    average.update_parameters(model)
                bar.update(task, advance=1, status=f"loss {loss:.4f}")

            started = time.perf_counter()
            stats = run_epoch(
                net, objective, loader, train_aug, optimizers, device, info, cfg.max_steps, on_step,
                schedulers if per_batch else (), relabel, precision=cfg.precision,
            )  # fmt: skip
        stats["train_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        # the same seeded rows on every rank, so every rank validates identical statistics
        bn_rows = np.random.default_rng([cfg.seed, k, epoch]).permutation(train_rows)[: cfg.bn_images]
        bn_loader = make_batches(
            data, bn_rows, cfg.batch_size, False, epoch_seed, scheme, votes, False, None, cfg.num_workers, pin
        )
        recalibrate_batchnorm(judged, bn_loader, val_aug, device, cfg.bn_images, cfg.precision)
        if cfg.predictor == "centroid" and model.predictor == "proxy":
            loss_view = proxy_view(objective.dml_loss)
            anchor_to_centroids(judged, cfg, data, train_rows, device, [cfg.seed, k, epoch], loss_view)
        else:
            objective.sync_predictor(judged)
        metrics = validate(judged, objective, val_loader, val_aug, device, cfg.stage, cfg.precision)
        stats["val_seconds"] = round(time.perf_counter() - started, 2)
        if not per_batch:
            for sch in schedulers:
                sch.step(metrics["val_loss"])
        record = {"fold": k, "epoch": epoch, **stats, **metrics, "lr": optimizers[0].param_groups[0]["lr"]}
        better = improved(metrics, cfg.select_by, state["best_score"])
        state["epoch"] = epoch
        if better:
            state.update(
                best_score=score(metrics, cfg.select_by), best_epoch=epoch, bad_epochs=0, best_metrics=metrics
            )
        else:
            state["bad_epochs"] += 1
        if info.is_main:
            payload = checkpoint_payload(judged, cfg, data, train_rows, val_rows, epoch)
            payload["val_metrics"] = json.dumps(metrics)
            if better:
                save_checkpoint(payload, fold_dir / "best.pt")
            if average is not None:  # resuming needs the live weights and the average
                payload.update(state_dict=cpu_state_dict(model), average=average.state_dict())
            payload.update(
                objective=objective.state_dict(),
                optimizers=[o.state_dict() for o in optimizers],
                schedulers=[s.state_dict() for s in schedulers],
                loop_state=json.dumps(state),
            )
            save_checkpoint(payload, last)
            with open(fold_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
        D.barrier(info)
        if info.is_main:
            console.print(_format_record(record, better))
    if info.is_main and model.predictor == "knn" and state["best_epoch"] >= 0:
        save_reference(model, cfg, data, train_rows, fold_dir, device)
    result = {
        "fold": k,
        "selected_by": cfg.select_by,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"] + 1,
        "n_train": int(len(train_rows)),
        "n_val": int(len(val_rows)),
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
        "loss": cfg.loss if cfg.stage == "dml" else None,
        "miner": cfg.miner if cfg.stage == "dml" else None,
        "n_folds": len(results),
        "metrics": stats,
        "folds": results,
    }
