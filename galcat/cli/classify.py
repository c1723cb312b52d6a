"""`galcat classify`: a target list (names and/or positions) -> the same table with morphology columns."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors, predict_turns_option
from galcat.cli.options import option
from galcat.outputs.classify import ClassifyConfig

#: exit code of a classify run that wrote its table but could classify no row
NOTHING_CLASSIFIED = 3


@app.command("classify")
@handle_errors
def classify(
    model: Path | None = typer.Option(
        None, "--model", help="Training run directory (galcat train --out); not with --resolve-only."
    ),
    targets: Path = typer.Option(
        ..., "--targets", help="Your list: CSV/TSV, FITS, VOTable, ECSV or Parquet with names and/or RA/Dec."
    ),
    out: Path = typer.Option(..., "--out", help="Output table: .fits, .vot, .ecsv or .parquet."),
    images: Path | None = typer.Option(
        None, "--images", help="Local image folder (files named by id, any case); else --service."
    ),
    image_pattern: str = option(
        ClassifyConfig,
        "image_pattern",
        help="Image file name of an id, e.g. '{key}_tgt' (extension optional).",
    ),
    service: str = option(
        ClassifyConfig, "service", help="Cutout service: skyserver, hips2fits or legacysurvey."
    ),
    resolver: str | None = typer.Option(
        None, "--resolver", help="For names without positions: openngc:PATH (offline), simbad or sesame."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", help="Labelled store for the k nearest galaxies (default: the run's store)."
    ),
    samp: bool = option(
        ClassifyConfig,
        "samp",
        help="Send the written table to TOPCAT over SAMP (no hub: the table is "
        "written, then one warning line).",
    ),
    keep_store: Path | None = typer.Option(
        None, "--keep-store", help="Keep the built HDF5 store here (else it is temporary)."
    ),
    frame: str = option(ClassifyConfig, "frame", help="Frame of your RA/Dec: icrs, fk5 or fk4."),
    equinox: str | None = typer.Option(None, "--equinox", help="Equinox for fk5/fk4 (default J2000/B1950)."),
    id_column: str | None = typer.Option(None, "--id-column", help="Id column (default objid/id/...)."),
    name_column: str | None = typer.Option(None, "--name-column", help="Name column (default name/object)."),
    ra_column: str | None = typer.Option(None, "--ra-column", help="RA column (default ra/RAJ2000/UCD)."),
    dec_column: str | None = typer.Option(None, "--dec-column", help="Dec column (default dec/DEJ2000/UCD)."),
    pixels: int | None = typer.Option(None, "--pixels", help="Cutout side in pixels (service default)."),
    scale: float | None = typer.Option(None, "--scale", help="Cutout scale in arcsec/pixel."),
    release: int | None = typer.Option(None, "--release", help="SDSS data release (skyserver)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Service mirror URL.", hidden=True),
    k: int | None = option(
        ClassifyConfig, "k", help="Nearest reference galaxies per target (default: a DML model's k, else 10)."
    ),
    workers: int = option(ClassifyConfig, "workers", help="Parallel downloads."),
    overwrite: bool = option(ClassifyConfig, "overwrite", help="Replace --out (and --keep-store)."),
    batch_size: int = option(ClassifyConfig, "batch_size", help="Images per forward pass."),
    device: str | None = typer.Option(None, "--device", help="torch device (default: cuda if available)."),
    predict_turns: int | None = predict_turns_option(),
    resolve_only: bool = option(
        ClassifyConfig, "resolve_only", help="Only positions and each row's status: no images, no model."
    ),
):
    """Classify your own galaxies: every row of --targets comes back with predictions (or why not).

    Exit code 0 when at least one row was classified (or with --resolve-only), 3 when the table
    was written but no row could be classified (see its classify_status column), 2 on a bad request.

    \b
    Example: galcat classify --model runs/gz1-dml --targets mine.csv --out \\
      mine_classified.fits --resolver openngc:../shared/data/openngc
    """
    from galcat.outputs.classify import classify_targets
    from galcat.outputs.classify_table import format_summary

    cfg = ClassifyConfig(
        model=str(model) if model else None, targets=str(targets), out=str(out),
        images=str(images) if images else None, image_pattern=image_pattern,
        service=service, resolver=resolver, reference=str(reference) if reference else None,
        keep_store=str(keep_store) if keep_store else None, samp=samp, frame=frame, equinox=equinox,
        id_column=id_column, name_column=name_column, ra_column=ra_column, dec_column=dec_column,
        pixels=pixels, scale=scale, release=release, base_url=base_url, k=k, workers=workers,
        overwrite=overwrite, batch_size=batch_size, device=device, predict_turns=predict_turns,
        resolve_only=resolve_only,
    )  # fmt: skip
    result = classify_targets(cfg)
    if result is None:  # a torchrun rank other than 0; rank 0 writes the table
        return
    for line in format_summary(result):
        print(line)
    if not resolve_only and result.n_classified == 0:
        typer.echo(
            f"galcat: error: no row of {targets} could be classified; why is in {out} (classify_status)",
            err=True,
        )
        raise typer.Exit(NOTHING_CLASSIFIED)
