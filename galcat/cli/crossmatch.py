"""`galcat crossmatch A B`: pair up two catalogue tables by sky position and/or identifier."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option, radius_text
from galcat.coords.crossmatch import crossmatch_files, crossmatch_to_file


@app.command(
    "crossmatch",
)
@handle_errors
def crossmatch_command(
    table_a: Path = typer.Argument(..., help="First table (.fits/.vot/.ecsv/.parquet/.h5/.csv/.hats)."),
    table_b: Path = typer.Argument(..., help="Second table, any of those (HATS: matched with lsdb)."),
    radius: str = option(
        crossmatch_files, "radius", shown=radius_text, help="Match radius, e.g. 5arcsec or 0.001deg."
    ),
    by: str = option(crossmatch_files, "by", help="sky (ra/dec columns), id (identifier column) or both."),
    key: str = option(crossmatch_files, "key", help="Identifier column of A for --by id/both (PGC/NGC/IC)."),
    key_b: str = option(crossmatch_files, "key_b", help="Identifier column of B (default: same as --key)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output table; format from the extension."),
    overwrite: bool = option(crossmatch_to_file, "overwrite", help="Replace --out if it exists."),
):
    """Cross-match table A with table B and write the matched pairs (with separation in arcsec).

    \b
    Example: galcat crossmatch rsa.fits efigi.ecsv --radius 5arcsec --by \\
      both --key pgc --out m.fits
    """
    from galcat.catalogues.targets import read_user_table
    from galcat.coords.crossmatch import crossmatch_to_file
    from galcat.progress import console

    matched = crossmatch_to_file(
        table_a, table_b, out, overwrite=overwrite, radius=radius, by=by, key=key, key_b=key_b,
        reader=read_user_table,
    )  # fmt: skip
    console.print(f"{len(matched)} matched pairs ({table_a.name} x {table_b.name}, by {by}) -> {out}")
