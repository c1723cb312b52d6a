"""Assemble the standard catalogue table every reader returns (docs/architecture.md).

Standard columns come first (objid, ra, dec, hubble9, hubble11, label_reason), then every source
column; a source column with a standard name (e.g. GZ2's ``ra``) is replaced by the standard one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat.errors import GalcatError, where
from galcat.schemes import HUBBLE9, HUBBLE11, RULES, collapse_11_to_9, read_paper_labels
from galcat.tables import DEC_UCD, RA_UCD, clean_text

UCD = {"ra": RA_UCD, "dec": DEC_UCD, "objid": "meta.id;meta.main"}
STANDARD = ("objid", "ra", "dec", "hubble9", "hubble11", "label_reason")


def position_column(name: str, values, mask=None) -> MaskedColumn:
    """A float64 degree column with its UCD, masked where the value is unknown (None/NaN)."""
    mask_in = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else False
    data = np.array(
        [np.nan if v is None else v for v in np.ma.filled(np.ma.asarray(values, dtype=object), None)]
    )
    data = data.astype(np.float64)
    missing = ~np.isfinite(data) | mask_in
    if mask is not None:
        missing |= np.asarray(mask, bool)
    column = MaskedColumn(data, name=name, unit=u.deg, mask=missing, dtype=np.float64)
    column.meta["ucd"] = UCD[name]
    column.description = "ICRS right ascension" if name == "ra" else "ICRS declination"
    return column


def label_column(name: str, labels) -> MaskedColumn:
    """A string column masked where the label is None."""
    values = ["" if lab is None else str(lab) for lab in labels]
    width = max([len(v) for v in values] + [4])
    return MaskedColumn(values, name=name, dtype=f"U{width}", mask=[lab is None for lab in labels])


def check_unique_ids(objids, path, column: str) -> None:
    """Duplicate ids break every later join: GalcatError naming both rows."""
    seen: dict[str, int] = {}
    for row, objid in enumerate(objids, start=1):
        if objid in seen:
            raise GalcatError(
                f"{where(path, row, column)}duplicate id {objid!r} (first at row {seen[objid]})"
            )
        seen[objid] = row


def check_finite_positions(table: Table, ra_col: str, dec_col: str, path) -> None:
    """A source that gives positions must give them for every row (NaN is an error, not a mask)."""
    for col in (ra_col, dec_col):
        values = np.ma.filled(np.ma.asarray(table[col], dtype=float), np.nan)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise GalcatError(
                f"{where(path, int(bad[0]) + 1, col)}coordinate is NaN or empty ({bad.size} row(s) in all)"
            )
        limit = 360.0 if col == ra_col else 90.0
        low = 0.0 if col == ra_col else -90.0
        out = np.flatnonzero((values < low) | (values > limit))
        if out.size:
            raise GalcatError(
                f"{where(path, int(out[0]) + 1, col)}{values[out[0]]} is outside [{low}, {limit}] deg"
            )


def source_positions(table: Table, path, ra_column=None, dec_column=None):
    """ICRS positions from a source's own RA/Dec columns (by name or UCD; any notation).

    Returns ``(table, ra, dec)``; ``ra``/``dec`` are None when the source has no position
    columns. A source column called ``ra``/``dec`` is kept as ``ra_input``/``dec_input``, since
    the standard columns take those names.
    """
    from galcat.coords.positions import find_position_columns, table_positions

    ra_col, dec_col = find_position_columns(table, ra_column, dec_column, path)
    if ra_col is None:
        return table, None, None
    ra, dec = table_positions(table, ra_col, dec_col, path=path)
    table = table.copy(copy_data=False)
    for col in {ra_col, dec_col} & {"ra", "dec"}:
        table.rename_column(col, f"{col}_input")
    return table, ra, dec


def apply_rule(rule: str, inputs: list, params: dict) -> tuple[list, list, str]:
    """Run a named rule over zipped input columns -> (labels, reasons, scheme)."""
    func, scheme = RULES[rule]
    labels, reasons = [], []
    for args in zip(*inputs, strict=True):
        result = func(*[_plain(a) for a in args], **params)
        labels.append(result.label)
        reasons.append(result.reason)
    return labels, reasons, scheme


def paper_labels_for(objids, paper_path) -> tuple[list, list, list]:
    """hubble9, hubble11 and reasons from one of the paper's label tables, joined on objid."""
    table = read_paper_labels(paper_path)
    name = Path(paper_path).name
    h9, h11, reasons = [], [], []
    for objid in objids:
        entry = table.get(objid)
        h9.append(entry.get("hubble9") if entry else None)
        h11.append(entry.get("hubble11") if entry else None)
        reasons.append("" if entry else f"not in paper table {name}")
    return h9, h11, reasons


def _plain(value):
    return None if value is np.ma.masked else value.item() if isinstance(value, np.generic) else value


def assemble(
    source: Table,
    *,
    objid,
    ra=None,
    dec=None,
    hubble9=None,
    hubble11=None,
    reasons=None,
    meta: dict,
    extra_front: dict | None = None,
) -> Table:
    """Standard columns + ``extra_front`` (e.g. ``pgc``) + every source column, with ``meta``.

    ``hubble9`` is derived from ``hubble11`` by collapsing when only ``hubble11`` is given.
    ``meta['n_masked']`` counts rows whose primary label (the first of ``label_schemes``) is masked.
    """
    n = len(source)
    hubble11 = hubble11 if hubble11 is not None else [None] * n
    if hubble9 is None:
        hubble9 = [collapse_11_to_9(lab) for lab in hubble11]
    reasons = reasons if reasons is not None else [""] * n
    nan = [np.nan] * n
    columns = [
        Column([clean_text(o) for o in objid], name="objid", dtype=str, meta={"ucd": UCD["objid"]}),
        position_column("ra", nan if ra is None else ra),
        position_column("dec", nan if dec is None else dec),
        label_column("hubble9", hubble9),
        label_column("hubble11", hubble11),
        Column([str(r) for r in reasons], name="label_reason", dtype=str),
    ]
    out = Table(columns, masked=False)
    for name, values in (extra_front or {}).items():
        out[name] = values
    for name in source.colnames:
        if name not in out.colnames:
            out[name] = source[name]
    out.meta.update(meta)
    schemes = out.meta.setdefault("label_schemes", {"hubble9": list(HUBBLE9), "hubble11": list(HUBBLE11)})
    primary = next(iter(schemes), None)  # None: an unlabelled catalogue (target list, plain folder)
    out.meta["n_rows"] = n
    out.meta["n_masked"] = int(np.ma.getmaskarray(out[primary]).sum()) if primary in out.colnames else n
    out.meta.setdefault("image_key", "objid")
    return out


def class_counts(table: Table, scheme: str) -> dict[str, int]:
    """Counts per class (masked rows excluded), in the scheme's class order."""
    column = table[scheme]
    mask = np.ma.getmaskarray(column)
    counts = Counter(str(v) for v, m in zip(column, mask, strict=True) if not m)
    order = table.meta.get("label_schemes", {}).get(scheme) or sorted(counts)
    return {c: counts.get(c, 0) for c in order}
