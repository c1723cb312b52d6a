"""`galcat build` (catalogue + pixels -> HDF5 store) and `galcat info` (summary, --verify)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.errors import GalcatError
from galcat.images.factory import DEFAULT_SERVICE, SERVICES
from galcat.store.build import BuildConfig
from galcat.store.preprocess import PreprocessConfig


class Dataset(StrEnum):
    efigi = "efigi"
    rsa = "rsa"
    gz2 = "gz2"
    folder = "folder"
    targets = "targets"


Service = StrEnum("Service", {name: name for name in SERVICES})


@app.command("build")
@handle_errors
def build(
    dataset: Dataset = typer.Argument(
        ..., help="Catalogue kind: efigi, rsa, gz2, an image folder, or a target list (names/positions)."
    ),
    catalogue: Path | None = typer.Option(
        None, "--catalogue", help="Catalogue file (raw, or from `galcat catalogue`)."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Local image archive; else pixels come from --service."
    ),
    out: Path | None = typer.Option(None, "--out", help="Store path (default stores/DATASET.h5)."),
    limit: int | None = typer.Option(None, "--limit", help="Build from the first N rows only."),
    exclude: Path | None = typer.Option(None, "--exclude", help="Drop objects present in this catalogue."),
    overwrite: bool = option(
        BuildConfig, "overwrite", help="Replace an existing store (or a stale .partial)."
    ),
    release: int | None = typer.Option(None, "--release", help="SDSS data release for SkyServer."),
    scale: float | None = typer.Option(None, "--scale", help="Cutout scale (arcsec/pixel)."),
    pixels: int | None = typer.Option(None, "--pixels", help="Cutout side in pixels."),
    service: Service = typer.Option(
        DEFAULT_SERVICE, "--service", help=f"Cutout service: {', '.join(SERVICES)}."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="Service mirror URL.", hidden=True),
    keep_original: bool = option(BuildConfig, "keep_original", help="Also store the raw-size images."),
    compression: str = option(
        BuildConfig,
        "compression",
        help="Image codec: lz4 (default, streams fastest), zstd, gzip (archival, no plugin), lzf, none.",
    ),
    present_only: bool = option(
        BuildConfig,
        "present_only",
        help="Local archive: skip catalogue rows that have no image file.",
    ),
    crop: int = option(
        PreprocessConfig,
        "crop",
        help="Centre crop for a 424 px image (same fraction otherwise); 0 = none.",
    ),
    size: int = option(PreprocessConfig, "size", help="Output image side in pixels."),
    id_column: str | None = typer.Option(None, "--id-column", help="Folder: the id column of the CSV."),
    label_column: str | None = typer.Option(
        None, "--label-column", help="Folder: the label column of the CSV."
    ),
    labels: str = option(BuildConfig, "labels", help="Hubble labels: 'rule' or 'paper' (--paper-labels)."),
    paper_labels: Path | None = typer.Option(None, "--paper-labels", help="The paper's frozen label table."),
    resolver: str | None = typer.Option(None, "--resolver", help="Name resolver: simbad or openngc:PATH."),
    workers: int = option(BuildConfig, "workers", help="Parallel fetches."),
):
    """Build an HDF5 store; rerun the same command to resume an interrupted build.

    Only rows fetched as ok/cached become galaxies of the store (catalogue order); blank and
    failed rows are listed in NAME.failures.ecsv beside it.

    \b
    Example: galcat build folder --images ../shared/data/gz1/images \\
      --catalogue ../shared/data/gz1/labels.csv --id-column OBJID \\
      --label-column class_name --out stores/gz1.h5
    Example: galcat build efigi --catalogue EFIGI_attributes.txt \\
      --resolver simbad --limit 100 --out stores/efigi.h5
    """
    from galcat.store.api import build_from_config

    config = BuildConfig(
        name=dataset.value, catalogue=str(catalogue) if catalogue else None,
        images=str(images) if images else None, service=service.value, release=release, scale=scale,
        pixels=pixels, preprocess=PreprocessConfig(crop=crop, size=size), labels=labels,
        paper_labels=str(paper_labels) if paper_labels else None, resolver=resolver, id_column=id_column,
        label_column=label_column, keep_original=keep_original, compression=compression,
        present_only=present_only, limit=limit, exclude=str(exclude) if exclude else None, workers=workers,
        overwrite=overwrite,
    )  # fmt: skip
    summary = build_from_config(config, out, base_url=base_url)
    counts = ", ".join(f"{k}={v}" for k, v in sorted(summary.status_counts.items()))
    print(
        f"wrote {summary.out}: {summary.n_stored} of {summary.n_rows} rows ({counts})"
        + (f", {summary.resumed_rows} resumed" if summary.resumed_rows else "")
        + (f", {summary.excluded} excluded" if summary.excluded else "")
        + (f", {summary.not_in_archive} without an image file skipped" if summary.not_in_archive else "")
        + (f", {summary.no_image_file} without an image file" if summary.no_image_file else "")
    )
    if summary.failures_path is not None:
        print(f"not stored: {summary.n_failed} rows listed in {summary.failures_path}")


@app.command("info")
@handle_errors
def info(
    store: Path = typer.Argument(..., help="A store written by `galcat build`."),
    verify: bool = typer.Option(
        False, "--verify", help="Re-check every dataset and row (damage: exit 2, one line naming the rows)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Counts per class, provenance, shape and config of a store; --verify checks every dataset.

    \b
    Example: galcat info stores/gz1.h5 --verify
    """
    from galcat.store.verify import format_info, store_info, verify_store

    if not verify:
        summary = store_info(store)
        print(json.dumps(summary, indent=2) if as_json else format_info(summary))
        return
    report = verify_store(store)  # first: a damaged catalogue must not hide the per-row findings
    try:
        summary = store_info(store)
        print(json.dumps(summary, indent=2) if as_json else format_info(summary))
    except GalcatError as exc:
        print(f"info: {exc}")
    if report.ok:
        print(f"verify: ok ({report.rows_checked} rows checked)")
        return
    for problem in report.problems[:50]:
        print(f"verify: {problem}")
    print(f"verify: FAILED ({len(report.problems)} problems, {len(set(report.bad_rows))} bad rows)")
    raise GalcatError(report.summary(store))
