"""``galcat catalogue {efigi,rsa,gz2,folder,targets}``: read a catalogue into the standard table."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.catalogues import read_catalogue, write_catalogue
from galcat.catalogues.targets import read_targets
from galcat.cli.app import app, command_group, handle_errors
from galcat.cli.options import option

catalogue_app = command_group(
    """Read a galaxy catalogue into galcat's standard table (objid, ra, dec, hubble9, hubble11).

    \b
    Example: galcat catalogue efigi --source EFIGI_attributes.txt --out efigi.fits
    Example: galcat catalogue folder --source gz1/labels.csv \\
      --label-column class_name --out gz1.ecsv
    """
)
app.add_typer(catalogue_app, name="catalogue")

_SOURCE = typer.Option(None, "--source", help="Local file (or URL for gz2); default: the spec's VizieR/URL.")
_LABELS = option(
    read_catalogue,
    "labels",
    choices=("rule", "paper"),
    help="The rule in the catalogue's spec, or the paper's.",
)
_PAPER = typer.Option(None, "--paper-labels", help="The paper's label table for --labels paper.")
_RESOLVER = typer.Option(None, "--resolver", help="Name resolver for positions: simbad or openngc:PATH.")
_OUT = typer.Option(
    ..., "--out", "-o", help="Output table; format from the extension (.fits .vot .ecsv ...)."
)
_OVERWRITE = option(write_catalogue, "overwrite", help="Replace --out if it exists.")


def _run(name: str, out: Path, overwrite: bool, **kwargs) -> None:
    """Read and write through the API, then print rows, class counts and the masked count."""
    from galcat.catalogues import class_counts, write_catalogue
    from galcat.progress import console

    table = write_catalogue(name, out, overwrite=overwrite, **kwargs)
    meta = table.meta
    console.print(f"{name}: {len(table)} rows -> {out}  (labels: {meta.get('label_rule')})", soft_wrap=True)
    for scheme in meta.get("label_schemes", {}):
        counts = class_counts(table, scheme)
        console.print(f"  {scheme}: " + ", ".join(f"{c} {n}" for c, n in counts.items()), soft_wrap=True)
    console.print(f"  masked labels: {meta.get('n_masked', 0)}")
    for key, label in (
        ("n_missing_images", "rows without an image file (kept; a build lists them as failed)"),
        ("n_unresolved", "unresolved names"),
    ):
        if key in meta:
            console.print(f"  {label}: {meta[key]}")


@catalogue_app.command("efigi")
@handle_errors
def efigi_command(
    source: str = _SOURCE,
    labels: str = _LABELS,
    paper_labels: Path = _PAPER,
    resolver: str = _RESOLVER,
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
):
    """EFIGI (Baillard+2011): EFIGI_attributes.txt or VizieR J/A+A/532/A74; hubble9 by efigi_rule_v1.

    \b
    Example: galcat catalogue efigi --source EFIGI_attributes.txt --out \\
      efigi.fits
    Example: galcat catalogue efigi --source EFIGI_attributes.txt --labels \\
      paper --paper-labels efigi_model.csv --out efigi.ecsv
    """
    _run("efigi", out, overwrite, source=source, labels=labels, paper_labels=paper_labels, resolver=resolver)


@catalogue_app.command(
    "rsa",
)
@handle_errors
def rsa_command(
    source: str = _SOURCE,
    labels: str = _LABELS,
    paper_labels: Path = _PAPER,
    resolver: str = _RESOLVER,
    id_column: str = typer.Option(None, "--id-column", help="Galaxy name column (default Galaxy_ID/Name)."),
    label_column: str = typer.Option(None, "--label-column", help="RSA type column for --labels rule."),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
):
    """Revised Shapley-Ames: VizieR VII/51 (B1950 -> ICRS) or a name list resolved to positions.

    \b
    Example: galcat catalogue rsa --source usethis_rsa2.csv --labels paper \\
      --resolver openngc:OpenNGC/ --out rsa.fits
    Example: galcat catalogue rsa --source usethis_rsa2.csv --labels paper \\
      --resolver openngc:NGC.csv --out rsa.ecsv
    """
    _run(
        "rsa", out, overwrite, source=source, labels=labels, paper_labels=paper_labels, resolver=resolver,
        id_column=id_column, label_column=label_column,
    )  # fmt: skip


@catalogue_app.command("gz2")
@handle_errors
def gz2_command(
    source: str = _SOURCE,
    labels: str = _LABELS,
    paper_labels: Path = _PAPER,
    label_column: str = typer.Option(None, "--label-column", help="gz2_class column (default gz2_class)."),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
):
    """Galaxy Zoo 2 (Hart+2016 CSV, local or URL; or the Stripe 82 vote table); gz2_rule_v1 (reconstructed).

    \b
    Example: galcat catalogue gz2 --source gz2_hart16.csv.gz --out \\
      gz2.parquet
    Example: galcat catalogue gz2 --source table5.csv.gz --out \\
      stripe82.ecsv
    """
    _run(
        "gz2",
        out,
        overwrite,
        source=source,
        labels=labels,
        paper_labels=paper_labels,
        label_column=label_column,
    )


@catalogue_app.command(
    "folder",
)
@handle_errors
def folder_command(
    source: str = typer.Option(..., "--source", help="The id,label CSV."),
    images: Path = typer.Option(None, "--images", help="Image directory (default: images/ beside the CSV)."),
    id_column: str = typer.Option(None, "--id-column", help="Id column (default objid/OBJID/GalaxyID/id)."),
    label_column: str = typer.Option(
        None, "--label-column", help="Label column (default label/class_name; none: unlabelled)."
    ),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
):
    """An image folder: id[,label][,ra,dec] CSV + images named {id}.jpg/.jpeg/.png (any case).

    \b
    Example: galcat catalogue folder --source gz1/labels.csv \\
      --label-column class_name --out gz1.ecsv
    Example: galcat catalogue folder --source kaggle/labels.csv --images \\
      kaggle/images --out kaggle.ecsv
    """
    _run(
        "folder", out, overwrite, source=source, images=images, id_column=id_column, label_column=label_column
    )


_TARGET_HELP = {
    "frame": "Frame of the input RA/Dec: icrs, fk5 or fk4 (converted to ICRS).",
    "equinox": "Equinox for fk5/fk4 (default J2000 / B1950).",
}


@catalogue_app.command(
    "targets",
)
@handle_errors
def targets_command(
    source: str = typer.Option(
        ..., "--source", help="Target list: CSV/TSV, FITS, VOTable, ECSV or Parquet with names and/or RA/Dec."
    ),
    resolver: str = typer.Option(
        None, "--resolver", help="Resolver for names without positions: openngc:PATH, simbad or sesame."
    ),
    frame: str = option(read_targets, "frame", help=_TARGET_HELP["frame"]),
    equinox: str = typer.Option(None, "--equinox", help=_TARGET_HELP["equinox"]),
    id_column: str = typer.Option(
        None, "--id-column", help="Id column (default objid/id/SDSSID or UCD meta.id)."
    ),
    name_column: str = typer.Option(None, "--name-column", help="Name column (default name/object/target)."),
    ra_column: str = typer.Option(
        None, "--ra-column", help="RA column (default ra/RAJ2000/... or UCD pos.eq.ra)."
    ),
    dec_column: str = typer.Option(None, "--dec-column", help="Dec column (default dec/DEJ2000/... or UCD)."),
    label_column: str = typer.Option(
        None, "--label-column", help="Optional class column (default: unlabelled)."
    ),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
):
    """Your own target list (names and/or positions, no labels needed) as a standard table.

    Positions may be degrees, sexagesimal strings or columns with units; ids are kept exactly.

    \b
    Example: galcat catalogue targets --source mine.csv --resolver \\
      openngc:../shared/data/openngc --out mine.fits
    Example: galcat catalogue targets --source mine.csv --resolver \\
      openngc:OpenNGC/ --out mine.fits
    """
    _run(
        "targets", out, overwrite, source=source, resolver=resolver, frame=frame, equinox=equinox,
        id_column=id_column, name_column=name_column, ra_column=ra_column, dec_column=dec_column,
        label_column=label_column,
    )  # fmt: skip
