"""Put galcat's per-galaxy columns back onto the user's own table, row for row.

The user's table is written back unchanged (every column, every row, the user's order); each
galcat column becomes a masked column of the same length, filled on the rows that were
classified. One naming rule for every galcat column: when the user's table already has a column
of that name (ignoring case), the user's column keeps its name and galcat's gets the suffix
``_galcat``.
"""

from __future__ import annotations

import numpy as np
from astropy.table import MaskedColumn, Table

from galcat.errors import GalcatError

SUFFIX = "_galcat"


def free_name(table: Table, name: str) -> str:
    """``name``, or ``name_galcat`` (``name_galcat2`` ...) when the table already has it.

    Names are compared ignoring case, because FITS does: ``P_E`` in the user's table would
    otherwise collide with galcat's ``p_E`` in a FITS file.
    """
    taken = {c.lower() for c in table.colnames}
    if name.lower() not in taken:
        return name
    candidate, k = name + SUFFIX, 2
    while candidate.lower() in taken:
        candidate, k = f"{name}{SUFFIX}{k}", k + 1
    return candidate


def scatter_column(column, rows: np.ndarray, n: int, name: str) -> MaskedColumn:
    """A length-``n`` masked copy of ``column`` whose values land at ``rows`` (0-based), masked elsewhere.

    Units, descriptions and the UCD travel with the values.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) != len(column):
        raise GalcatError(f"column {name!r}: {len(column)} values for {len(rows)} rows")
    values = np.asarray(column)
    shape = (n, *values.shape[1:])
    if values.dtype.kind in "US":
        data = np.zeros(shape, dtype=values.dtype)
    else:
        data = np.zeros(shape, dtype=values.dtype if values.dtype.kind != "O" else "U1")
    mask = np.ones(shape, dtype=bool)
    data[rows] = values
    mask[rows] = np.ma.getmaskarray(column) if np.ma.isMaskedArray(column) else False
    out = MaskedColumn(
        data, name=name, mask=mask, unit=getattr(column, "unit", None),
        description=getattr(column, "description", None),
    )  # fmt: skip
    meta = getattr(column, "meta", None) or {}
    if meta.get("ucd"):
        out.meta["ucd"] = meta["ucd"]
    return out


def add_columns(user: Table, columns: dict, rows: np.ndarray | None = None) -> dict[str, str]:
    """Add ``columns`` (name -> column) to ``user`` in place; returns {galcat name: name used}.

    With ``rows`` the columns hold values for those user rows only (others masked); without,
    they are full length already.
    """
    used = {}
    for name, column in columns.items():
        target = free_name(user, name)
        if rows is not None:
            column = scatter_column(column, rows, len(user), target)
        else:
            column = column.copy()
            column.name = target
        user.add_column(column)
        used[name] = target
    return used


def has_main_position(table: Table) -> bool:
    """True when a user column already carries the ``pos.eq.ra;meta.main`` UCD."""
    for name in table.colnames:
        ucd = str((table[name].meta or {}).get("ucd", "")).lower()
        if ucd.startswith("pos.eq.ra") and "meta.main" in ucd:
            return True
    return False
