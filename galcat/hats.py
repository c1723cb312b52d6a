"""HATS catalogues: HEALPix-partitioned Parquet that lsdb reads and cross-matches on Dask.

Catalogues of millions of rows are shared and cross-matched as HATS directories rather than single
files. galcat writes its tables (predictions, embeddings as list columns) through ``lsdb`` /
``hats`` and keeps what Parquet has no place for (units, UCDs, descriptions, ``table.meta``) in a
JSON side file inside the directory, so :func:`read_hats` returns the same astropy Table that
:func:`galcat.tables.read_table` returns for the other formats. ``lsdb`` is an optional
dependency (``pip install galcat[hats]``); without it these functions raise a clear GalcatError.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import MaskedColumn, Table

from galcat.config import json_default
from galcat.errors import GalcatError, where

HATS_SUFFIX = ".hats"
COLUMN_META = "galcat_columns.json"  # inside the HATS directory: units, UCDs, descriptions, meta
#: margin cache width: rows this close to a partition edge are copied to the neighbour's margin, so a
#: cross-match within this radius finds pairs that straddle partitions
MARGIN_ARCSEC = 10.0


def is_hats(path) -> bool:
    """True for a ``*.hats`` path or a directory holding a HATS catalogue or collection."""
    path = Path(path)
    markers = ("collection.properties", "properties", "hats.properties")
    if path.name.lower().endswith(HATS_SUFFIX):
        return True
    return path.is_dir() and any((path / marker).exists() for marker in markers)


def _lsdb():
    try:
        import lsdb
    except ImportError:  # optional dependency
        raise GalcatError("HATS catalogues need lsdb: pip install 'galcat[hats]'") from None
    return lsdb


def _to_frame(table: Table):
    """A pandas DataFrame: vector columns as one array per row (Parquet lists), masks as nulls."""
    import pandas as pd

    data = {}
    for col in table.itercols():
        mask = np.ma.getmaskarray(col) if isinstance(col, MaskedColumn) else None
        values = np.asarray(col.filled() if mask is not None else col)
        if values.dtype.kind in "fiub":  # FITS columns are big-endian; Arrow takes native order only
            values = values.astype(values.dtype.newbyteorder("="), copy=False)
        if values.ndim > 1:
            data[col.name] = list(values)
        elif values.dtype.kind in "USO":
            data[col.name] = pd.array(values.astype(str), dtype="string")
        elif values.dtype.kind in "iub":
            nullable = "boolean" if values.dtype.kind == "b" else values.dtype.name.capitalize()  # Int64
            data[col.name] = pd.array(values, dtype=nullable)
        else:
            data[col.name] = values.astype(float) if values.dtype.kind == "f" else values
        if mask is not None and mask.any() and values.ndim == 1:
            data[col.name] = pd.Series(data[col.name]).mask(mask)
    return pd.DataFrame(data)


def _column_meta(table: Table) -> dict:
    columns = {}
    for col in table.itercols():
        columns[col.name] = {
            "unit": None if col.unit is None else col.unit.to_string(),
            "dtype": col.dtype.str if col.dtype.kind in "fiub" else None,
            "ucd": (col.meta or {}).get("ucd"),
            "description": col.description,
        }
    return {"columns": columns, "meta": json.loads(json.dumps(dict(table.meta), default=json_default))}


def write_hats(
    table: Table,
    path,
    *,
    ra: str = "ra",
    dec: str = "dec",
    overwrite: bool = False,
    partition_rows: int | None = None,
) -> Path:
    """Write ``table`` as a HATS catalogue at ``path`` (a directory, conventionally ``NAME.hats``).

    Rows without a position cannot be HEALPix-partitioned: they are refused with the first such row
    named, rather than silently dropped. ``partition_rows`` bounds the rows per Parquet leaf.
    """
    lsdb = _lsdb()
    path = Path(path)
    if path.exists() and not overwrite:
        raise GalcatError(f"{where(path)}already exists; pass overwrite=True (--overwrite) to replace it")
    from galcat.paths import check_replaceable

    check_replaceable(path, "hats")  # a folder galcat did not write is never deleted
    if not path.parent.exists():
        raise GalcatError(f"{where(path.parent)}output folder does not exist")
    for name in (ra, dec):
        if name not in table.colnames:
            raise GalcatError(
                f"{where(path, column=name)}HATS needs a position column (have {table.colnames})"
            )
    missing = np.ma.getmaskarray(table[ra]) | np.ma.getmaskarray(table[dec])
    if missing.any():
        first = int(np.flatnonzero(missing)[0]) + 1  # counted from 1, as every galcat message
        raise GalcatError(
            f"{where(path, first, ra)}{int(missing.sum())} rows have no position; "
            "HATS partitions by sky position (write those rows to .fits/.parquet instead)"
        )
    frame = _to_frame(table)
    rows = partition_rows or max(1000, min(len(frame), 200_000))
    catalog = lsdb.from_dataframe(
        frame, ra_column=ra, dec_column=dec, catalog_name=path.name.removesuffix(HATS_SUFFIX) or "galcat",
        partition_rows=rows, margin_threshold=MARGIN_ARCSEC,
    )  # fmt: skip
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    catalog.write_catalog(tmp, progress_bar=False, overwrite=True, as_collection=True)
    (tmp / COLUMN_META).write_text(json.dumps(_column_meta(table), indent=1))
    # a directory cannot be swapped in one step: the old one is moved aside first, so at every moment
    # either the old or the new collection sits under ``path`` (or beside it, if interrupted)
    old = path.with_name(f".{path.name}.old")
    _remove(old)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    _remove(old)
    return path


def _remove(path: Path) -> None:
    """Delete a folder tree, a file or a link (never a link's target)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def open_hats(path):
    """The lazy ``lsdb.Catalog`` of a HATS directory (GalcatError when it is not one)."""
    lsdb = _lsdb()
    path = Path(path)
    if not path.exists():
        raise GalcatError(f"{where(path)}no such HATS catalogue")
    try:
        return lsdb.open_catalog(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure means a bad catalogue
        raise GalcatError(f"{where(path)}not a readable HATS catalogue: {exc}") from None


def _column_values(series) -> tuple[np.ndarray, np.ndarray]:
    """(values, null mask) of one pandas column, vectors stacked into a 2-D array."""
    import pandas as pd

    raw = series.to_numpy()
    if raw.dtype == object and any(isinstance(v, np.ndarray | list) for v in raw[:100]):
        return np.stack([np.asarray(v) for v in raw]), np.zeros(len(raw), bool)
    mask = np.asarray(series.isna(), dtype=bool)
    if pd.api.types.is_float_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan), mask
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool, na_value=False), mask
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64, na_value=0), mask
    return np.asarray(series.astype(object).where(~mask, "").to_numpy(), dtype=str), mask


def frame_to_table(frame, meta: dict | None = None) -> Table:
    """An astropy Table from an lsdb/pandas frame, restoring masks, units, UCDs and descriptions."""
    frame = frame.reset_index(drop=True)
    table = Table()
    columns = (meta or {}).get("columns", {})
    for name in frame.columns:
        if name.startswith("_healpix"):
            continue
        values, mask = _column_values(frame[name])
        info = columns.get(name, {})
        if info.get("dtype") and values.dtype.kind in "fiub":
            values = values.astype(info["dtype"])
        table[name] = MaskedColumn(values, mask=mask) if mask.any() else values
        if info.get("unit"):
            table[name].unit = u.Unit(info["unit"])
        if info.get("ucd"):
            table[name].meta["ucd"] = info["ucd"]
        if info.get("description"):
            table[name].description = info["description"]
    table.meta.update((meta or {}).get("meta", {}))
    return table


def read_hats(path) -> Table:
    """The whole HATS catalogue as an astropy Table, rows in the catalogue's HEALPix order."""
    catalog = open_hats(path)
    meta_file = Path(path) / COLUMN_META
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else None
    return frame_to_table(catalog.compute(progress_bar=False), meta)


def _as_catalog(source, ra: str, dec: str, radius_arcsec: float):
    lsdb = _lsdb()
    if isinstance(source, Table):
        margin = max(MARGIN_ARCSEC, 1.5 * radius_arcsec)
        return lsdb.from_dataframe(_to_frame(source), ra_column=ra, dec_column=dec, margin_threshold=margin)
    return open_hats(source)


def crossmatch_hats(left, right, radius_arcsec: float, *, suffixes=("_a", "_b"), ra="ra", dec="dec") -> Table:
    """Nearest neighbour of each ``left`` row in ``right`` within ``radius_arcsec``, with lsdb on Dask.

    Either side may be a HATS path or an astropy Table (converted in memory). The result has every
    column of both sides with ``suffixes`` and ``sep_arcsec``; lsdb's k-d tree match on the unit sphere
    equals astropy's ``match_to_catalog_sky`` for the nearest neighbour.
    """
    radius_arcsec = float(radius_arcsec)
    if not isinstance(right, Table) and radius_arcsec > MARGIN_ARCSEC:
        raise GalcatError(
            f"{where(right)}radius {radius_arcsec} arcsec exceeds the {MARGIN_ARCSEC} arcsec margin cache"
        )
    a, b = _as_catalog(left, ra, dec, radius_arcsec), _as_catalog(right, ra, dec, radius_arcsec)
    matched = a.crossmatch(
        b,
        n_neighbors=1,
        radius_arcsec=radius_arcsec,
        suffixes=suffixes,
        suffix_method="all_columns",
        log_changes=False,
        require_right_margin=True,
    )
    frame = matched.compute(progress_bar=False)
    table = frame_to_table(frame)
    if "_dist_arcsec" in table.colnames:
        table.rename_column("_dist_arcsec", "sep_arcsec")
        table["sep_arcsec"].unit = u.arcsec
        table["sep_arcsec"].description = "Angular separation of the matched pair"
    return table
