"""`galcat pretrain`: parse options -> PretrainConfig -> galcat.model.pretrain -> print the summary."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors


@app.command(
    "pretrain",
    epilog="Example: galcat pretrain --store stores/gz1_64.h5 --store stores/task_train.h5 "
    "--exclude-store stores/task_val.h5 --out runs/ssl; then galcat train --init runs/ssl ...",
)
@handle_errors
def pretrain_command(
    store: list[Path] = typer.Option(..., "--store", help="Stores whose images are pooled."),
    out: Path = typer.Option(..., "--out", help="Run directory, e.g. runs/ssl (rerun to resume)."),
    exclude_store: list[Path] = typer.Option(
        [], "--exclude-store", help="Leave out rows whose objid is in this store (e.g. validation galaxies)."
    ),
    arch: str | None = typer.Option(None, "--arch", help="resnet18|resnet34|resnet50 or timm:NAME."),
    embedding_dim: int = typer.Option(128, "--embedding-dim"),
    image_size: int | None = typer.Option(None, "--image-size", help="Default: the first store's size."),
    epochs: int | None = typer.Option(None, "--epochs", help="Default: 20 on CPU, 100 on an accelerator."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Default: 128 (CPU), 512."),
    lr: float = typer.Option(1e-3, "--lr"),
    temperature: float = typer.Option(0.1, "--temperature", help="NT-Xent temperature."),
    flips: bool = typer.Option(
        False, "--flips/--no-flips", help="Mirror views (off: a mirror changes a spiral's winding)."
    ),
    max_angle: float = typer.Option(15.0, "--max-angle", help="Small rotations beyond 90-degree turns."),
    blur: float = typer.Option(1.0, "--blur", help="Largest PSF-like Gaussian blur sigma, pixels."),
    noise: float = typer.Option(0.03, "--noise", help="Largest pixel noise sigma (pixels in 0..1)."),
    colour: float = typer.Option(0.05, "--colour", help="Sigma of the log colour gains per channel."),
    device: str = typer.Option("auto", "--device"),
    precision: str | None = typer.Option(None, "--precision", help="bf16 | fp32 (default by device)."),
    seed: int = typer.Option(0, "--seed"),
    num_workers: int = typer.Option(0, "--num-workers"),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Cap batches per epoch (smoke runs)."),
):
    """Self-supervised (SimCLR) pretraining on the pooled images of unlabelled stores."""
    from galcat.model.pretrain import PretrainConfig, pretrain

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
