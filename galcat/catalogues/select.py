"""Which catalogue rows a store is built from: read the catalogue, then drop rows by policy.

``load_catalogue`` accepts what ``galcat catalogue`` wrote (any galcat table format but CSV) or
a raw catalogue read by the named reader. ``select_rows`` applies, in this order,
``present_only`` (a local archive's rows without an image file), ``exclude`` (objects also in
another catalogue, by PGC number and/or sky position, through :mod:`galcat.coords.crossmatch`)
and ``limit`` (the first N rows), and counts what each step dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from galcat.catalogues import read_catalogue
from galcat.coords.crossmatch import exclude_overlap, overlap_methods
from galcat.errors import GalcatError


def is_standard_table(name: str, path: str | os.PathLike | None) -> bool:
    """True when ``path`` is a table galcat wrote (read as is), not a raw catalogue for a reader.

    CSV is always raw (the folder and target readers take CSV), and target lists always go
    through their reader, which resolves names and converts frames.
    """
    if path is None or name == "targets":
        return False
    from galcat.tables import table_format

    try:
        return table_format(path) != "ascii.csv"
    except GalcatError:
        return False


def load_catalogue(name: str, path: str | os.PathLike | None = None, **reader_options) -> Table:
    """The standard table of catalogue ``name``: ``path`` read as is when galcat wrote it, else by
    :func:`galcat.catalogues.read_catalogue` (``reader_options``: labels, paper_labels, resolver,
    id_column, label_column, images; None values are left out)."""
    if is_standard_table(name, path):
        from galcat.tables import read_table

        return read_table(path)
    options = {k: v for k, v in reader_options.items() if v is not None}
    return read_catalogue(name, Path(path) if path is not None else None, **options)


def select_rows(
    catalogue: Table,
    *,
    source=None,
    present_only: bool = False,
    exclude: Table | None = None,
    exclude_radius_arcsec: float = 5.0,
    limit: int | None = None,
) -> tuple[Table, dict]:
    """The rows to build and the counts dropped: ``not_in_archive`` (``present_only``), ``excluded``,
    and ``no_image_file`` (rows of a local archive kept without an image file: they are
    reported as failed rows, not dropped)."""
    table = catalogue
    dropped = {"not_in_archive": 0, "excluded": 0, "no_image_file": 0}
    local = hasattr(source, "find") and hasattr(source, "file_name")
    if present_only and not local:
        raise GalcatError("--present-only needs a local image archive (--images DIR)")
    if present_only:
        keep = np.array([_has_file(source, i, row) for i, row in enumerate(table)], dtype=bool)
        dropped["not_in_archive"] = int((~keep).sum())
        table = table[keep]
    if exclude is not None:
        by = overlap_methods(table, exclude)
        if not by:
            raise GalcatError("--exclude: the catalogues share neither a 'pgc' column nor sky positions")
        table, report = exclude_overlap(table, exclude, radius=exclude_radius_arcsec * u.arcsec, by=by)
        dropped["excluded"] = int(report["removed"])
    if limit is not None:
        if limit < 1:
            raise GalcatError(f"--limit must be positive, got {limit}")
        table = table[:limit]
    if len(table) == 0:
        raise GalcatError("no catalogue rows left to build (after --exclude / --limit)")
    if local and not present_only:
        dropped["no_image_file"] = sum(not _has_file(source, i, row) for i, row in enumerate(table))
    return table, dropped


def _has_file(source, i: int, row) -> bool:
    try:
        return source.find(source.file_name(i, row)) is not None
    except GalcatError:  # no id in this row: the fetch reports it
        return False
