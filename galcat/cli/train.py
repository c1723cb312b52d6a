"""`galcat train`: parse options -> TrainConfig -> galcat.model.train -> print the summary."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.metrics.summary import summary_text
from galcat.model.config import (
    ARCHS,
    BALANCES,
    DEVICES,
    DML_PREDICTORS,
    LOSSES,
    MINERS,
    OPTIMIZERS,
    PRECISIONS,
    PREDICT_TURNS,
    SCHEDULES,
    SELECT_BY,
    STAGES,
    TrainConfig,
)  # fmt: skip

TURNS_HELP = "Predictions and embeddings average the 4 90-degree turns of each image (1: one view)."


@app.command("train")
@handle_errors
def train_command(
    store: Path = typer.Option(..., "--store", help="HDF5 image store (galcat build)."),
    out: Path = typer.Option(..., "--out", help="Run directory, e.g. runs/NAME (rerun to resume)."),
    stage: str = option(TrainConfig, "stage", choices=STAGES),
    scheme: str | None = option(TrainConfig, "scheme", help="Label scheme (default: the store's first)."),
    loss: str = option(TrainConfig, "loss", choices=LOSSES, help="dml: the metric-learning loss."),
    miner: str = option(TrainConfig, "miner", choices=MINERS, help="dml: the pair miner."),
    init: str | None = option(
        TrainConfig,
        "init",
        help="Start from: a galcat run dir (train or pretrain) or checkpoint .pt, encoder weights "
        "(.safetensors or a state dict .pt), or hf_hub:OWNER/NAME (a timm model on the Hugging Face hub).",
    ),
    arch: str | None = option(
        TrainConfig, "arch", choices=ARCHS, help="Or timm:NAME (e.g. timm:resnet18). Default: by device."
    ),
    embedding_dim: int = option(TrainConfig, "embedding_dim"),
    image_size: int | None = option(TrainConfig, "image_size", help="Default: the store's image size."),
    folds: int = option(TrainConfig, "folds", help="Stratified k-fold; 1 = one split (--val-fraction)."),
    val_fraction: float = option(TrainConfig, "val_fraction"),
    epochs: int | None = option(TrainConfig, "epochs"),
    batch_size: int | None = option(TrainConfig, "batch_size"),
    lr: float | None = option(TrainConfig, "lr"),
    proxy_lr: float | None = option(TrainConfig, "proxy_lr", help="dml proxy losses: their own SGD lr."),
    optimizer: str | None = option(TrainConfig, "optimizer", choices=OPTIMIZERS, help="Default: per stage."),
    label_smoothing: float = option(TrainConfig, "label_smoothing", help="ls-ce epsilon."),
    m_per_class: int | None = option(TrainConfig, "m_per_class", help="MPerClassSampler m."),
    patience: int | None = option(
        TrainConfig,
        "patience",
        help="Early stopping: epochs without a better --select-by (default: 10 under --schedule plateau, "
        "off under onecycle).",
    ),
    select_by: str | None = option(
        TrainConfig,
        "select_by",
        choices=SELECT_BY,
        help="Metric that picks the best epoch (default: macro_f1 for ce/ls-ce, map_at_r for dml, "
        "rmse for votes).",
    ),
    schedule: str = option(TrainConfig, "schedule", choices=SCHEDULES, help="onecycle: warm-up + cosine."),
    balance: str = option(
        TrainConfig,
        "balance",
        choices=BALANCES,
        help="Class imbalance: balanced batches, loss weights or none.",
    ),
    balance_power: float = option(
        TrainConfig,
        "balance_power",
        help="Class weight n_c^-power: 0 natural, 0.5 square root, 1 equal classes.",
    ),
    flips: bool | None = option(
        TrainConfig,
        "flips",
        "--flips/--no-flips",
        help="Random flips (default: on, off for a handed scheme such as GZ1).",
    ),
    mirror_relabel: bool | None = option(
        TrainConfig,
        "mirror_relabel",
        "--mirror-relabel/--no-mirror-relabel",
        help="Handed scheme: train on mirror images with the mirror class (cw <-> acw); default on.",
    ),
    rot90: bool = option(TrainConfig, "rot90", "--rot90/--no-rot90", help="Random 90-degree rotations."),
    max_angle: float = option(TrainConfig, "max_angle", help="Extra random rotation, degrees (0: none)."),
    predictor: str = option(
        TrainConfig,
        "predictor",
        choices=DML_PREDICTORS,
        help="dml predictions: distance-weighted vote of the --knn-k nearest training galaxies (knn); "
        "proxy losses also: nearest class centroid (centroid) or nearest learned proxy (proxy).",
    ),
    knn_k: int = option(
        TrainConfig, "knn_k", help="dml --predictor knn: neighbours in the distance-weighted vote."
    ),
    predict_turns: int = option(TrainConfig, "predict_turns", choices=PREDICT_TURNS, help=TURNS_HELP),
    bn_images: int = option(
        TrainConfig,
        "bn_images",
        help="Training images that re-estimate BatchNorm statistics each epoch (0: off).",
    ),
    ema_epochs: float = option(
        TrainConfig,
        "ema_epochs",
        help="Validate and save an exponential moving average of the weights with this time constant, "
        "in epochs (0: the weights of the last step).",
    ),
    device: str = option(TrainConfig, "device", choices=DEVICES),
    precision: str | None = option(
        TrainConfig,
        "precision",
        choices=PRECISIONS,
        help="Forward passes; default bf16 on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX), fp32 "
        "elsewhere.",
    ),
    compile: bool = option(
        TrainConfig, "compile", "--compile/--no-compile", help="torch.compile the network."
    ),
    weights: Path | None = option(TrainConfig, "weights", help="Trunk weights (state_dict .pt)."),
    seed: int = option(TrainConfig, "seed"),
    num_workers: int = option(TrainConfig, "num_workers"),
    max_steps: int | None = option(TrainConfig, "max_steps", help="Cap batches per epoch (smoke runs)."),
    labels_per_class: int | None = option(
        TrainConfig, "labels_per_class", help="Train on N labelled galaxies a class (seeded)."
    ),
    label_fraction: float | None = option(
        TrainConfig, "label_fraction", help="Train on this stratified fraction of the training split."
    ),
    freeze_trunk: bool = option(
        TrainConfig, "freeze_trunk", "--freeze-trunk/--no-freeze-trunk", help="Train only the heads."
    ),
    freeze_epochs: int = option(TrainConfig, "freeze_epochs", help="Heads alone for N epochs, then all."),
    trunk_lr_factor: float = option(
        TrainConfig,
        "trunk_lr_factor",
        help="The trunk learns at --lr times this (e.g. 0.1 when fine-tuning).",
    ),
):
    """Train a stage (votes, ce, ls-ce, dml) with k-fold CV; writes runs/NAME.

    \b
    Example: galcat train --store stores/gz1_64.h5 --stage ls-ce --folds 1 \\
      --out runs/gz1-lsce
    Example: galcat train --store stores/gz1_64.h5 --stage dml \\
      --loss proxy-nca --miner pair --init runs/gz1-lsce --folds 1 \\
      --out runs/gz1-dml
    """
    from galcat.model import train

    cfg = TrainConfig(
        store=str(store), stage=stage, out=str(out), scheme=scheme, loss=loss, miner=miner, init=init,
        arch=arch, embedding_dim=embedding_dim, image_size=image_size, folds=folds,
        val_fraction=val_fraction, epochs=epochs, batch_size=batch_size, lr=lr, proxy_lr=proxy_lr,
        optimizer=optimizer, label_smoothing=label_smoothing, m_per_class=m_per_class, patience=patience,
        bn_images=bn_images, ema_epochs=ema_epochs, select_by=select_by, schedule=schedule, balance=balance,
        balance_power=balance_power, flips=flips, mirror_relabel=mirror_relabel, rot90=rot90,
        max_angle=max_angle, predictor=predictor, knn_k=knn_k, predict_turns=predict_turns,
        device=device, precision=precision, compile=compile,
        weights=str(weights) if weights else None, seed=seed, num_workers=num_workers, max_steps=max_steps,
        labels_per_class=labels_per_class, label_fraction=label_fraction, freeze_trunk=freeze_trunk,
        freeze_epochs=freeze_epochs, trunk_lr_factor=trunk_lr_factor,
    )  # fmt: skip
    result = train(cfg)
    lines = [f"run {result.out} ({result.config.stage}, {result.config.arch}, {len(result.folds)} fold(s))"]
    metrics = result.summary.get("metrics", {})
    lines += [f"  {key:<16} {summary_text(metrics, key)}" for key in metrics]
    lines.append(f"  started from   {getattr(result.config, 'init', None) or 'random weights'}")
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        print("\n".join(lines))
