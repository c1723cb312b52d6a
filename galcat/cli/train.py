"""`galcat train`: parse options -> TrainConfig -> galcat.model.train -> print the summary."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.model.config import TrainConfig


@app.command("train")
@handle_errors
def train_command(
    store: Path = typer.Option(..., "--store", help="HDF5 image store (galcat build)."),
    out: Path = typer.Option(..., "--out", help="Run directory, e.g. runs/NAME (rerun to resume)."),
    stage: str = typer.Option("ls-ce", "--stage", help="votes | ce | ls-ce | dml"),
    scheme: str | None = typer.Option(None, "--scheme", help="Label scheme (default: the store's first)."),
    loss: str = typer.Option(
        "proxy-nca", "--loss", help="dml: contrastive|triplet|proxy-nca|proxy-anchor|normalized-softmax"
    ),
    miner: str = typer.Option("pair", "--miner", help="dml: pair | triplet | none"),
    init: str | None = typer.Option(None, "--init", help="Earlier run dir (fold 0 best) or checkpoint .pt."),
    arch: str | None = typer.Option(None, "--arch", help="resnet18|resnet34|resnet50 (default by device)."),
    embedding_dim: int = typer.Option(128, "--embedding-dim"),
    image_size: int | None = typer.Option(None, "--image-size", help="Default: the store's image size."),
    folds: int = typer.Option(5, "--folds", help="Stratified k-fold; 1 = one split (--val-fraction)."),
    val_fraction: float = typer.Option(0.2, "--val-fraction"),
    epochs: int | None = typer.Option(None, "--epochs"),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    lr: float | None = typer.Option(None, "--lr"),
    proxy_lr: float | None = typer.Option(None, "--proxy-lr", help="dml proxy losses: their own SGD lr."),
    optimizer: str | None = typer.Option(None, "--optimizer", help="adam | sgd (default per stage)."),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing", help="ls-ce epsilon."),
    m_per_class: int | None = typer.Option(None, "--m-per-class", help="MPerClassSampler m."),
    patience: int | None = typer.Option(
        None,
        "--patience",
        help="Early stopping: epochs without a better --select-by (default: 10 under --schedule plateau, "
        "off under onecycle).",
    ),
    select_by: str | None = typer.Option(
        None,
        "--select-by",
        help="Best epoch by macro_f1|accuracy|map_at_r|precision_at_1|val_loss|rmse "
        "(default: macro_f1 for ce/ls-ce, map_at_r for dml, rmse for votes).",
    ),
    schedule: str = typer.Option("onecycle", "--schedule", help="onecycle (warm-up + cosine) | plateau."),
    balance: str = typer.Option(
        "sampler", "--balance", help="Class imbalance: sampler (balanced batches) | loss (weights) | none."
    ),
    balance_power: float = typer.Option(
        0.5, "--balance-power", help="Class weight n_c^-power: 0 natural, 0.5 square root, 1 equal classes."
    ),
    flips: bool | None = typer.Option(
        None, "--flips/--no-flips", help="Random flips (default: on, off for a handed scheme such as GZ1)."
    ),
    mirror_relabel: bool | None = typer.Option(
        None,
        "--mirror-relabel/--no-mirror-relabel",
        help="Handed scheme: train on mirror images with the mirror class (cw <-> acw); default on.",
    ),
    rot90: bool = typer.Option(True, "--rot90/--no-rot90", help="Random 90-degree rotations."),
    max_angle: float = typer.Option(0.0, "--max-angle", help="Extra random rotation, degrees (0: none)."),
    predictor: str = typer.Option(
        "knn",
        "--predictor",
        help="dml predictions: distance-weighted vote of the --knn-k nearest training galaxies (knn); "
        "proxy losses also: nearest class centroid (centroid) or nearest learned proxy (proxy).",
    ),
    knn_k: int = typer.Option(
        20, "--knn-k", help="dml --predictor knn: neighbours in the distance-weighted vote."
    ),
    predict_turns: int = typer.Option(
        4,
        "--predict-turns",
        help="Predictions and embeddings average the 4 90-degree turns of each image (1: one view).",
    ),
    bn_images: int = typer.Option(
        1024, "--bn-images", help="Training images that re-estimate BatchNorm statistics each epoch (0: off)."
    ),
    ema_epochs: float = typer.Option(
        0.0,
        "--ema-epochs",
        help="Validate and save an exponential moving average of the weights with this time constant, "
        "in epochs (0: the weights of the last step).",
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | mps"),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="bf16 | fp32 forward passes; default bf16 on CUDA and on CPUs with native bf16 "
        "(AVX512-BF16, AMX), fp32 elsewhere.",
    ),
    compile: bool = typer.Option(False, "--compile/--no-compile", help="torch.compile the network."),
    weights: Path | None = typer.Option(None, "--weights", help="Trunk weights (state_dict .pt)."),
    seed: int = typer.Option(0, "--seed"),
    num_workers: int = typer.Option(0, "--num-workers"),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Cap batches per epoch (smoke runs)."),
):
    """Train a stage (votes, ce, ls-ce, dml) with k-fold CV; writes runs/NAME.

    Example: galcat train --store stores/gz1_64.h5 --stage ls-ce --folds 1 --out runs/gz1-lsce

    Example: galcat train --store stores/gz1_64.h5 --stage dml --loss proxy-nca --miner pair
    --init runs/gz1-lsce --folds 1 --out runs/gz1-dml
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
    )  # fmt: skip
    result = train(cfg)
    lines = [f"run {result.out} ({result.config.stage}, {result.config.arch}, {len(result.folds)} fold(s))"]
    for key, stat in result.summary.get("metrics", {}).items():
        lines.append(f"  {key:<16} {stat['mean']:.4f} ± {stat['std']:.4f}")
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        print("\n".join(lines))
