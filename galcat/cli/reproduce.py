"""`galcat reproduce`: the paper's Tables 3-4 grid as one resumable command."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors


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
    epilog="Example: galcat reproduce --train efigi=stores/efigi.h5 --train gz2h=stores/gz2h.h5 "
    "--test rsa=stores/rsa.h5 --init runs/gz2-votes --out reports/paper",
)
@handle_errors
def reproduce_command(
    train: list[str] = typer.Option(..., "--train", help="Training catalogue NAME=STORE (repeat)."),
    test: str = typer.Option(..., "--test", help="Test catalogue NAME=STORE (the paper: rsa=...)."),
    out: Path = typer.Option(
        Path("reports/paper"), "--out", help="Folder for cells, tables.md, results.ecsv."
    ),
    init: Path | None = typer.Option(None, "--init", help="Run that initialises every LS-CE (e.g. votes)."),
    losses: str | None = typer.Option(None, "--losses", help="Comma list (default: all five DML losses)."),
    miners: str = typer.Option("pair,triplet", "--miners", help="Comma list of miners."),
    classes: str = typer.Option("9,11", "--classes", help="Class counts: 9 and/or 11."),
    folds: int | None = typer.Option(None, "--folds", min=1, help="k-fold CV (default 5; 1 with --quick)."),
    quick: bool = typer.Option(False, "--quick", help="CPU budget: resnet18, 3+1 epochs, one fold, 32 px."),
    arch: str | None = typer.Option(None, "--arch", help="resnet18/34/50 (default: by device)."),
    image_size: int | None = typer.Option(None, "--image-size", min=8),
    lsce_epochs: int | None = typer.Option(None, "--lsce-epochs", min=1),
    dml_epochs: int | None = typer.Option(None, "--dml-epochs", min=1),
    batch_size: int | None = typer.Option(None, "--batch-size", min=2),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Cap on batches per epoch."),
    bootstrap: int | None = typer.Option(None, "--bootstrap", min=0, help="Resamples (default 1000)."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Add a frozen-trunk probe row per trunk."),
    audit: bool = typer.Option(True, "--audit/--no-audit", help="Audit catalogues that share galaxies."),
    device: str = typer.Option("auto", "--device"),
    seed: int = typer.Option(0, "--seed"),
):
    """LS-CE, then DML for every loss x miner, k folds, each cell evaluated on the test catalogue.

    Rerunning the same command skips finished cells and resumes an interrupted one.
    """
    from galcat.errors import GalcatError
    from galcat.experiments.reproduce import ReproduceConfig, reproduce

    try:
        class_counts = [int(c) for c in _listed(classes) or []]
    except ValueError:
        raise GalcatError(f"--classes {classes!r}: use 9, 11 or 9,11") from None
    cfg = ReproduceConfig(
        train=_named(train, "--train"), test=_named([test], "--test"), out=str(out),
        init=str(init) if init else None, miners=_listed(miners) or [], classes=class_counts,
        folds=folds, quick=quick, arch=arch, image_size=image_size, lsce_epochs=lsce_epochs,
        dml_epochs=dml_epochs, batch_size=batch_size, max_steps=max_steps, bootstrap=bootstrap,
        probe=probe, audit=audit, device=device, seed=seed,
    )  # fmt: skip
    if losses:
        cfg.losses = _listed(losses)
    result = reproduce(cfg)
    print(f"{len(result['cells'])} cells in {result['seconds']:.0f} s; tables: {result['paths']['tables']}")
