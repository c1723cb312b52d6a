"""EFIGI reader: ``EFIGI_attributes.txt`` (efigi.org v1.6.2) or VizieR J/A+A/532/A74.

The attribute file has no positions: ``ra``/``dec`` stay masked unless a resolver is given
(names ``PGC <n>``). Labels: ``efigi_rule_v1`` (T, Bar_Length; 53.7 % agreement with the
paper's labels) or the paper's ``efigi_model.csv`` (``labels="paper"``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from galcat.catalogues.labels import hubble_labels
from galcat.catalogues.remote import masked_values, resolve_names, vizier_table
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import assemble, check_unique_ids
from galcat.catalogues.textio import read_delimited, require_column
from galcat.errors import GalcatError, where


def read_efigi(source=None, labels: str = "rule", paper_labels=None, resolver=None):
    """Read EFIGI into the standard table (objid = PGCname such as ``PGC0000212``; adds ``pgc``).

    ``source``: path to ``EFIGI_attributes.txt``; None queries VizieR (network).

    Example::

        t = read_efigi("EFIGI_attributes.txt")            # 4458 rows, hubble9 by efigi_rule_v1
        t = read_efigi("EFIGI_attributes.txt", labels="paper", paper_labels="efigi_model.csv")
    """
    spec = load_spec("efigi")
    if source is None:
        required = [spec.candidates("vizier_objid"), ["T"]]
        table = vizier_table(spec.source["vizier"], spec.source.get("vizier_table"), required)
        path = f"VizieR {spec.source['vizier']}"
        id_col = require_column(table, spec.candidates("vizier_objid"), path, "PGC id")
    else:
        path = Path(source)
        table = read_delimited(
            path, spec.source.get("delimiter", "whitespace"), spec.source.get("comment", "#")
        )
        id_col = require_column(table, spec.candidates("objid"), path, "PGC name")
    pgc = np.array([_pgc_number(v, path, row, id_col) for row, v in enumerate(table[id_col], start=1)])
    objids = [spec.id["pattern"].format(pgc=int(n)) for n in pgc]
    check_unique_ids(objids, path, id_col)
    inputs = [table[name] if name in table.colnames else None for name in spec.label["inputs"]]
    if labels == "rule":
        for name, column in zip(spec.label["inputs"], inputs, strict=True):
            if column is None:
                require_column(table, name, path, "label input")
    result = hubble_labels(spec, objids, inputs, labels, paper_labels)
    ra = dec = None
    if resolver is not None:
        found = resolve_names([f"PGC {int(n)}" for n in pgc], resolver)
        ra, dec = masked_values(found["ra"]), masked_values(found["dec"])
    meta = spec.table_meta(path, **result["meta"])
    return assemble(
        table,
        objid=objids,
        ra=ra,
        dec=dec,
        hubble9=result["hubble9"],
        hubble11=result["hubble11"],
        reasons=result["reasons"],
        meta=meta,
        extra_front={"pgc": pgc.astype(np.int64)},
    )


def _pgc_number(value, path, row: int, column: str) -> int:
    """``PGC0000212`` / ``PGC 212`` / ``212`` -> 212; anything else is an error naming the row."""
    text = str(value).strip()
    match = re.fullmatch(r"(?:PGC\s*)?0*(\d+)", text, flags=re.IGNORECASE)
    if not match:
        raise GalcatError(f"{where(path, row, column)}{text!r} is not a PGC name like PGC0000212")
    return int(match.group(1))
