"""`galcat synth store|noise`: synthetic labelled stores, and "crowd" copies with known label noise."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors

synth_app = typer.Typer(help="Synthetic stores for offline runs (galcat's deterministic renderer).")
app.add_typer(synth_app, name="synth")


@synth_app.command("store", epilog="Example: galcat synth store --n-per-class 40 --size 32 --out expert.h5")
@handle_errors
def synth_store_command(
    out: Path = typer.Option(..., "--out", "-o", help="Store to write (.h5)."),
    classes: str = typer.Option("hubble9", "--classes", help="hubble9, hubble11 or a comma list of classes."),
    n_per_class: int = typer.Option(40, "--n-per-class", min=1),
    size: int = typer.Option(32, "--size", min=8, help="Image size in pixels."),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Render a labelled synthetic catalogue into an HDF5 store."""
    from galcat.synth.catalogue import class_list, make_synthetic_store

    path = make_synthetic_store(
        out, classes, n_per_class=n_per_class, size=size, seed=seed, overwrite=overwrite
    )
    print(f"{len(class_list(classes)) * n_per_class} synthetic galaxies -> {path}")


@synth_app.command("noise", epilog="Example: galcat synth noise expert.h5 --rate 0.3 --out crowd.h5")
@handle_errors
def synth_noise_command(
    store: Path = typer.Argument(..., help="Source store (the 'expert' labels)."),
    rate: float = typer.Option(..., "--rate", help="Probability that a label is flipped to another class."),
    out: Path = typer.Option(..., "--out", "-o", help="Store to write: same galaxies, noisy labels."),
    scheme: str = typer.Option("hubble9", "--scheme"),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Copy a store with its labels flipped at a known rate (a synthetic "crowd" catalogue)."""
    from galcat.synth.noise import make_noisy_store

    path = make_noisy_store(store, out, rate, scheme=scheme, seed=seed, overwrite=overwrite)
    print(f"labels flipped at rate {rate} -> {path}")
