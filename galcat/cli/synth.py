"""`galcat synth store|noise`: synthetic labelled stores, and "crowd" copies with known label noise."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, command_group, handle_errors
from galcat.cli.options import option
from galcat.synth.catalogue import SynthStoreConfig
from galcat.synth.noise import make_noisy_store

synth_app = command_group(
    """Synthetic stores for offline runs (galcat's deterministic renderer).

    \b
    Example: galcat synth store --n-per-class 40 --size 32 --out expert.h5
    Example: galcat synth noise expert.h5 --rate 0.3 --out crowd.h5
    """
)
app.add_typer(synth_app, name="synth")


@synth_app.command("store")
@handle_errors
def synth_store_command(
    out: Path = typer.Option(..., "--out", "-o", help="Store to write (.h5)."),
    classes: str = option(SynthStoreConfig, "classes", help="hubble9, hubble11 or a comma list of classes."),
    n_per_class: int = option(SynthStoreConfig, "n_per_class", "--n-per-class"),
    size: int = option(SynthStoreConfig, "size", help="Image size in pixels."),
    seed: int = option(SynthStoreConfig, "seed", "--seed"),
    overwrite: bool = option(SynthStoreConfig, "overwrite", "--overwrite"),
):
    """Render a labelled synthetic catalogue into an HDF5 store.

    \b
    Example: galcat synth store --n-per-class 40 --size 32 --out expert.h5
    """
    from galcat.synth.catalogue import class_list, make_synthetic_store

    path = make_synthetic_store(
        out, classes, n_per_class=n_per_class, size=size, seed=seed, overwrite=overwrite
    )
    print(f"{len(class_list(classes)) * n_per_class} synthetic galaxies -> {path}")


@synth_app.command("noise")
@handle_errors
def synth_noise_command(
    store: Path = typer.Argument(..., help="Source store (the 'expert' labels)."),
    rate: float = typer.Option(..., "--rate", help="Probability that a label is flipped to another class."),
    out: Path = typer.Option(..., "--out", "-o", help="Store to write: same galaxies, noisy labels."),
    scheme: str = option(make_noisy_store, "scheme", "--scheme"),
    seed: int = option(make_noisy_store, "seed", "--seed"),
    overwrite: bool = option(make_noisy_store, "overwrite", "--overwrite"),
):
    """Copy a store with its labels flipped at a known rate (a synthetic "crowd" catalogue).

    \b
    Example: galcat synth noise expert.h5 --rate 0.3 --out crowd.h5
    """
    from galcat.synth.noise import make_noisy_store

    path = make_noisy_store(store, out, rate, scheme=scheme, seed=seed, overwrite=overwrite)
    print(f"labels flipped at rate {rate} -> {path}")
