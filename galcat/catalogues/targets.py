"""An astronomer's own target list (names and/or RA/Dec, no labels) as a standard catalogue table.

Any CSV/TSV, FITS, VOTable, ECSV or Parquet table works. Ids are kept exactly as given; every
user column is kept (a user column whose name collides with a standard one is kept as
``<name>_input`` unless it holds the same values). Positions are parsed by
:mod:`galcat.coords.positions`; rows that have a name but no position are resolved with the
chosen resolver (``openngc:PATH`` offline, ``simbad``/``sesame`` online) and the unresolved ones
are counted (``meta['n_unresolved']``) and explained in ``resolve_note``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat import __version__
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import STANDARD, assemble, check_unique_ids
from galcat.coords.positions import find_column, find_position_columns, table_positions
from galcat.errors import GalcatError, where
from galcat.tables import clean_text

#: columns read_targets adds in front of the user's columns (besides the standard ones)
TARGET_COLUMNS = ("target_row", "position_source", "resolve_note")
NOT_FOUND = "not found by"  #: in ``resolve_note``: the resolver was asked and did not know the name
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".csv.gz", ".tsv.gz", ".txt.gz")


def read_user_table(source) -> Table:
    """The one reader of every table a user hands galcat (target lists, cross-match and audit
    inputs): the table as given, by extension. Text tables (plain or gzip, UTF-8 with or without a
    byte-order mark, any line ends) are read strictly; their id and name columns stay text (leading
    zeros kept) while other columns get their natural types."""
    path = Path(source)
    if not path.is_file():
        raise GalcatError(f"{where(path)}file not found")
    name = path.name.lower()
    if name.endswith(_TEXT_SUFFIXES):
        from galcat.catalogues.textio import read_delimited

        spec = load_spec("targets")
        delimiter = "\t" if ".tsv" in name else spec.source.get("delimiter", "auto")
        comment = spec.source.get("comment", "#")
        header = read_delimited(path, delimiter, comment, dtype=str)
        keep_text = {c: str for c in _text_columns(header, spec)}
        return read_delimited(path, delimiter, comment, dtype=keep_text)
    from galcat.tables import read_table

    return read_table(path)


def _text_columns(table: Table, spec) -> list[str]:
    """Columns that must stay text: ids, names and sexagesimal-looking positions."""
    cols = [
        find_column(table, spec.candidates("objid"), "meta.id"),
        find_column(table, spec.candidates("name")),
    ]
    return [c for c in cols if c is not None]


def read_targets(
    source,
    resolver=None,
    frame: str = "icrs",
    equinox: str | None = None,
    id_column: str | None = None,
    name_column: str | None = None,
    ra_column: str | None = None,
    dec_column: str | None = None,
    label_column: str | None = None,
    table: Table | None = None,
) -> Table:
    """Read a target list into the standard table (unlabelled unless ``label_column`` is given).

    ``table`` skips reading ``source`` (the caller already holds the user's table).

    Example::

        t = read_targets("mine.csv", resolver="openngc:../shared/data/openngc")
        t.meta["n_unresolved"], t["position_source"]
    """
    spec = load_spec("targets")
    path = Path(source) if source is not None else Path("<table>")
    user = read_user_table(path) if table is None else table
    if len(user) == 0:
        raise GalcatError(f"{where(path)}the target list has no rows")
    id_col = find_column(user, spec.candidates("objid"), "meta.id", id_column, path)
    name_col = find_column(user, spec.candidates("name"), None, name_column, path)
    ra_col, dec_col = find_position_columns(user, ra_column, dec_column, path)
    if id_col is None and name_col is None and ra_col is None:
        raise GalcatError(
            f"{where(path)}a target list needs a name column or RA/Dec columns "
            f"(tried names {spec.candidates('name')}, ids {spec.candidates('objid')}, UCDs); "
            f"found {', '.join(user.colnames[:15])}"
        )
    n = len(user)
    names = _text_values(user, name_col or id_col, path) if (name_col or id_col) else [""] * n
    objids = _text_values(user, id_col, path) if id_col else None
    if objids is None:
        objids = names if name_col else [f"row{i}" for i in range(1, n + 1)]
    for row, objid in enumerate(objids, start=1):
        if not objid:
            raise GalcatError(f"{where(path, row, id_col or name_col)}empty id")
    check_unique_ids(objids, path, id_col or name_col or "row")
    if ra_col is not None:
        ra, dec = table_positions(user, ra_col, dec_col, frame, equinox, path)
    else:
        if equinox or str(frame).lower() != "icrs":
            raise GalcatError(f"{where(path)}--frame/--equinox given, but the target list has no RA/Dec")
        ra, dec = np.full(n, np.nan), np.full(n, np.nan)
    source_of = np.where(np.isfinite(ra), "input", "").astype(object)
    notes = np.full(n, "", dtype=object)
    need = np.flatnonzero(~np.isfinite(ra))
    resolved_by = None
    if need.size:
        if not (name_col or id_col):
            for i in need:
                notes[i] = "no name to look up"
        elif resolver is None:
            for i in need:
                notes[i] = "pass --resolver to look the name up"
        else:
            resolved_by = _resolve(resolver, [names[i] for i in need], need, ra, dec, source_of, notes)
    for i in need:
        if not np.isfinite(ra[i]) and not names[i].strip() and notes[i] == "":
            notes[i] = "empty name"
    labels, classes = _labels(user, label_column, path)
    meta = spec.table_meta(
        path,
        label_rule=f"column:{label_column}" if label_column else "none (unlabelled)",
        label_params={"label_column": label_column} if label_column else {},
        galcat_version=__version__,
        label_schemes={label_column: classes} if label_column else {},
        target_columns={"id": id_col, "name": name_col, "ra": ra_col, "dec": dec_col},
        frame=str(frame).lower(),
        equinox=equinox or "",
        n_unresolved=int((~np.isfinite(ra)).sum()),
        n_resolved=int(np.count_nonzero(source_of != "input") - (~np.isfinite(ra)).sum()),
        resolver=_resolver_label(resolver) if resolved_by else "",
    )
    front = {
        "target_row": Column(np.arange(1, n + 1), description="Row in the input target list (1-based)"),
        "position_source": Column([str(s) for s in source_of], description="Where ra/dec came from"),
        "resolve_note": Column([str(s) for s in notes], description="Why the position is unknown"),
    }
    reasons = ["" if lab is not None else "unlabelled target" for lab in labels]
    return assemble(
        _rename_collisions(user, {"objid": objids, "ra": ra, "dec": dec}),
        objid=objids, ra=ra, dec=dec,
        hubble9=labels if label_column == "hubble9" else [None] * n,
        hubble11=labels if label_column == "hubble11" else [None] * n,
        reasons=reasons, meta=meta, extra_front=front,
    )  # fmt: skip


def _text_values(table: Table, column: str, path) -> list[str]:
    """A column's values as galcat compares them (:func:`galcat.tables.clean_text`; '' where masked)."""
    if table[column].ndim > 1:
        raise GalcatError(f"{where(path, column=column)}holds a vector per row; ids and names are one value")
    mask = np.ma.getmaskarray(table[column])
    return ["" if masked else clean_text(value) for value, masked in zip(table[column], mask, strict=True)]


def _resolve(resolver, names, rows, ra, dec, source_of, notes) -> bool:
    """Fill ``ra``/``dec`` for ``rows`` from the resolver; unresolved rows get a note."""
    from galcat.catalogues.remote import resolve_names

    usable = [i for i, name in enumerate(names) if name.strip()]
    found = resolve_names([names[i] for i in usable], resolver) if usable else None
    label = _resolver_label(resolver)
    for k, i in enumerate(usable):
        row = rows[i]
        if np.ma.is_masked(found["ra"][k]) or np.ma.is_masked(found["dec"][k]):
            notes[row] = f"name {names[i]!r} {NOT_FOUND} {label}"
            continue
        ra[row], dec[row] = float(found["ra"][k]), float(found["dec"][k])
        source_of[row] = str(found["source"][k]) if "source" in found.colnames else label
    return bool(usable)


def position_status(note: str) -> str:
    """Why a row has no position, from its ``resolve_note``: 'unresolved name: ...' or 'no position: ...'."""
    return f"unresolved name: {note}" if f" {NOT_FOUND} " in note else f"no position: {note}"


def _resolver_label(resolver) -> str:
    if isinstance(resolver, str):
        return resolver.split(":", 1)[0]
    return getattr(resolver, "name", type(resolver).__name__)


def _labels(table: Table, label_column: str | None, path) -> tuple[list, list[str]]:
    """Labels of an optional class column (None where empty) and its sorted classes."""
    if not label_column:
        return [None] * len(table), []
    from galcat.catalogues.folder import scheme_classes

    if label_column not in table.colnames:
        raise GalcatError(f"{where(path, column=label_column)}no such label column")
    labels = [None if not v.strip() else v.strip() for v in _text_values(table, label_column, path)]
    return labels, scheme_classes(label_column, labels, path)


def _rename_collisions(user: Table, standard: dict) -> Table:
    """The user's table with columns named like a standard column kept as ``<name>_input``.

    A user column that equals the standard one (ICRS degrees already, or the id itself) is left
    to the standard column rather than duplicated.
    """
    out = Table(user, copy=False)
    taken = set(STANDARD) | set(TARGET_COLUMNS)
    for name in [c for c in user.colnames if c in taken]:
        if name in standard and _same(user[name], standard[name]):
            out.remove_column(name)
            continue
        new, k = f"{name}_input", 2
        while new in out.colnames:
            new, k = f"{name}_input{k}", k + 1
        out.rename_column(name, new)
    return out


def _same(column, values) -> bool:
    if column.dtype.kind in "iuf" and getattr(column, "unit", None) in (None, "deg"):
        a = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
        return bool(np.allclose(a, np.asarray(values, float), rtol=0, atol=1e-12, equal_nan=True))
    if isinstance(column, MaskedColumn) and column.mask.any():
        return False
    return [str(v) for v in column] == [str(v) for v in values]
