"""`galcat reproduce`: the paper's Tables 3-4 grid as one resumable command."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import comma_list, option
from galcat.experiments.reproduce import ReproduceConfig
from galcat.model.config import ARCHS


def _named(values: list[str], option: str) -> dict[str, str]:
    from galcat.errors import GalcatError

    named = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise GalcatError(f"{option} {value!r}: write NAME=STORE, e.g. {option} efigi=stores/efigi.h5")
        if name.strip() in named:
            raise GalcatError(f"{option}: catalogue name {name.strip()!r} given twice")
        named[name.strip()] = path.strip()
    return named


def _listed(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


@app.command(
    "reproduce",
)
@handle_errors
def reproduce_command(
    train: list[str] = typer.Option(..., "--train", help="Training catalogue NAME=STORE (repeat)."),
    test: str = typer.Option(..., "--test", help="Test catalogue NAME=STORE (the paper: rsa=...)."),
    out: Path = option(ReproduceConfig, "out", help="Folder for cells, tables.md, results.ecsv."),
    init: Path | None = typer.Option(None, "--init", help="Run that initialises every LS-CE (e.g. votes)."),
    losses: str = option(ReproduceConfig, "losses", shown=comma_list, help="Comma list of DML losses."),
    miners: str = option(ReproduceConfig, "miners", shown=comma_list, help="Comma list of miners."),
    classes: str = option(ReproduceConfig, "classes", shown=comma_list, help="Class counts: 9 and/or 11."),
    folds: int | None = option(ReproduceConfig, "folds", help="k-fold CV (default 5; 1 with --quick)."),
    quick: bool = option(ReproduceConfig, "quick", help="CPU budget: resnet18, 3+1 epochs, one fold, 32 px."),
    arch: str | None = option(ReproduceConfig, "arch", choices=ARCHS, help="Default: by device."),
    image_size: int | None = option(ReproduceConfig, "image_size", "--image-size"),
    lsce_epochs: int | None = option(ReproduceConfig, "lsce_epochs", "--lsce-epochs"),
    dml_epochs: int | None = option(ReproduceConfig, "dml_epochs", "--dml-epochs"),
    batch_size: int | None = option(ReproduceConfig, "batch_size", "--batch-size"),
    max_steps: int | None = option(ReproduceConfig, "max_steps", help="Cap on batches per epoch."),
    bootstrap: int | None = option(ReproduceConfig, "bootstrap", help="Resamples (default 1000)."),
    probe: bool = option(
        ReproduceConfig, "probe", "--probe/--no-probe", help="Add a frozen-trunk probe row per trunk."
    ),
    audit: bool = option(
        ReproduceConfig, "audit", "--audit/--no-audit", help="Audit catalogues that share galaxies."
    ),
    device: str = option(ReproduceConfig, "device", "--device"),
    seed: int = option(ReproduceConfig, "seed", "--seed"),
):
    """LS-CE, then DML for every loss x miner, k folds, each cell evaluated on the test catalogue.

    Rerunning the same command skips finished cells and resumes an interrupted one.

    \b
    Example: galcat reproduce --train efigi=stores/efigi.h5 --train \\
      gz2h=stores/gz2h.h5 --test rsa=stores/rsa.h5 --init runs/gz2-votes \\
      --out reports/paper
    """
    from galcat.errors import GalcatError
    from galcat.experiments.reproduce import reproduce

    try:
        class_counts = [int(c) for c in _listed(classes) or []]
    except ValueError:
        raise GalcatError(f"--classes {classes!r}: use 9, 11 or 9,11") from None
    cfg = ReproduceConfig(
        train=_named(train, "--train"), test=_named([test], "--test"), out=str(out),
        init=str(init) if init else None, losses=_listed(losses) or [], miners=_listed(miners) or [],
        classes=class_counts,
        folds=folds, quick=quick, arch=arch, image_size=image_size, lsce_epochs=lsce_epochs,
        dml_epochs=dml_epochs, batch_size=batch_size, max_steps=max_steps, bootstrap=bootstrap,
        probe=probe, audit=audit, device=device, seed=seed,
    )  # fmt: skip
    result = reproduce(cfg)
    print(f"{len(result['cells'])} cells in {result['seconds']:.0f} s; tables: {result['paths']['tables']}")
