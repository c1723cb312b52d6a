"""`galcat pretrain`: parse options -> PretrainConfig -> galcat.model.pretrain -> print the summary."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.model.config import ARCHS, PRECISIONS
from galcat.model.pretrain import PretrainConfig


@app.command("pretrain")
@handle_errors
def pretrain_command(
    store: list[Path] = typer.Option(..., "--store", help="Stores whose images are pooled."),
    out: Path = typer.Option(..., "--out", help="Run directory, e.g. runs/ssl (rerun to resume)."),
    exclude_store: list[Path] = typer.Option(
        [], "--exclude-store", help="Leave out rows whose objid is in this store (e.g. validation galaxies)."
    ),
    arch: str | None = option(
        PretrainConfig, "arch", choices=ARCHS, help="Or timm:NAME. Default: by device."
    ),
    embedding_dim: int = option(PretrainConfig, "embedding_dim"),
    image_size: int | None = option(PretrainConfig, "image_size", help="Default: the first store's size."),
    epochs: int | None = option(PretrainConfig, "epochs", help="Default: 20 on CPU, 100 on an accelerator."),
    batch_size: int | None = option(PretrainConfig, "batch_size", help="Default: 128 (CPU), 512."),
    lr: float = option(PretrainConfig, "lr"),
    temperature: float = option(PretrainConfig, "temperature", help="NT-Xent temperature."),
    flips: bool = option(
        PretrainConfig,
        "flips",
        "--flips/--no-flips",
        help="Mirror views (a mirror changes a spiral's winding).",
    ),
    max_angle: float = option(PretrainConfig, "max_angle", help="Small rotations beyond 90-degree turns."),
    blur: float = option(PretrainConfig, "blur", help="Largest PSF-like Gaussian blur sigma, pixels."),
    noise: float = option(PretrainConfig, "noise", help="Largest pixel noise sigma (pixels in 0..1)."),
    colour: float = option(PretrainConfig, "colour", help="Sigma of the log colour gains per channel."),
    device: str = option(PretrainConfig, "device"),
    precision: str | None = option(
        PretrainConfig, "precision", choices=PRECISIONS, help="Default: by device."
    ),
    seed: int = option(PretrainConfig, "seed"),
    num_workers: int = option(PretrainConfig, "num_workers"),
    max_steps: int | None = option(PretrainConfig, "max_steps", help="Cap batches per epoch (smoke runs)."),
):
    """Self-supervised (SimCLR) pretraining on the pooled images of unlabelled stores.

    \b
    Example: galcat pretrain --store stores/gz1_64.h5 --store stores/task.h5 \\
      --exclude-store stores/task_val.h5 --out runs/ssl
    """
    from galcat.model.pretrain import pretrain

    cfg = PretrainConfig(
        stores=[str(s) for s in store], out=str(out), exclude_stores=[str(s) for s in exclude_store],
        arch=arch, embedding_dim=embedding_dim, image_size=image_size, epochs=epochs, batch_size=batch_size,
        lr=lr, temperature=temperature, flips=flips, max_angle=max_angle, blur=blur, noise=noise,
        colour=colour, device=device, precision=precision, seed=seed, num_workers=num_workers,
        max_steps=max_steps,
    )  # fmt: skip
    summary = pretrain(cfg)
    print(
        f"pretrain run {out}: {summary['n_images']} images, best epoch {summary['best_epoch'] + 1} "
        f"(loss {summary['best_loss']:.4f}); use it with galcat train --init {out}"
    )
