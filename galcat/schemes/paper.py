"""The paper's frozen label tables, read from a user-given path (never shipped in the repo).

Recognised layouts (the files of the paper's code repository):

- ``efigi_model.csv``: ``full_pgc_name`` (PGC0000281), ``hubb`` in HUBBLE9 -> ``hubble9``;
- ``usethis_rsa2.csv`` / ``usethis_rsa.csv``: ``Galaxy_ID`` (NGC0221), ``New type`` or ``Type``
  in HUBBLE11 -> ``hubble11`` (+ ``hubble9`` by collapsing E0/E3-5/E7 -> E);
- ``gz2_hub.csv``: ``objid`` (a stray trailing ':' is removed), ``hubble_type`` -> ``hubble11``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from galcat.errors import GalcatError, where
from galcat.schemes.classes import HUBBLE9, HUBBLE11, collapse_11_to_9

#: (id column, label column, scheme) for each known layout, tried in order.
PAPER_LAYOUTS = (
    ("full_pgc_name", "hubb", "hubble9"),
    ("Galaxy_ID", "New type", "hubble11"),
    ("Galaxy_ID", "Type", "hubble11"),
    ("objid", "hubble_type", "hubble11"),
)


def read_paper_labels(path) -> dict[str, dict[str, str]]:
    """``{objid: {"hubble9": ..., "hubble11": ...}}`` from one of the paper's label tables.

    Raises GalcatError naming file/row/column for an unknown layout, a label outside the
    scheme or a duplicated id (e.g. ``usethis_rsa.csv`` lists IC0764 twice).
    """
    path = Path(path)
    if not path.is_file():
        raise GalcatError(f"{path}: paper label table not found")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise GalcatError(f"{where(path)}empty paper label table (no data rows)")
    header = [h.strip() for h in rows[0]]
    layout = next((lay for lay in PAPER_LAYOUTS if lay[0] in header and lay[1] in header), None)
    if layout is None:
        expected = "; ".join(f"{i!r}+{lab!r}" for i, lab, _ in PAPER_LAYOUTS)
        raise GalcatError(f"{where(path)}not a paper label table: need columns {expected}; found {header}")
    id_col, label_col, scheme = layout
    id_idx, label_idx = header.index(id_col), header.index(label_col)
    classes = HUBBLE9 if scheme == "hubble9" else HUBBLE11
    labels: dict[str, dict[str, str]] = {}
    first_row: dict[str, int] = {}
    for row_number, row in enumerate(rows[1:], start=1):
        if not row:
            continue
        if len(row) != len(header):
            raise GalcatError(
                f"{where(path, row_number)}expected {len(header)} fields, found {len(row)} (truncated?)"
            )
        objid = row[id_idx].strip().rstrip(":")
        label = row[label_idx].strip()
        if label not in classes:
            raise GalcatError(f"{where(path, row_number, label_col)}{label!r} is not a {scheme} class")
        if objid in labels:
            raise GalcatError(
                f"{where(path, row_number, id_col)}duplicate id {objid!r} (first at row {first_row[objid]})"
            )
        first_row[objid] = row_number
        labels[objid] = (
            {"hubble11": label, "hubble9": collapse_11_to_9(label)}
            if scheme == "hubble11"
            else {"hubble9": label}
        )
    return labels
