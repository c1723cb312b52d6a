"""RSA reader: VizieR VII/51 (B1950 positions precessed to ICRS) or a name list resolved by name.

A name list is any CSV with a ``Galaxy_ID``-like column, e.g. the paper's ``usethis_rsa2.csv``;
positions then come from its own RA/Dec columns or from a resolver (``openngc:PATH`` offline,
or ``simbad``). Without a type column (and no paper table) the list is unlabelled. Ids are compact
names (``NGC0221``, ``IC0749``). Labels: ``rsa_rule_v1`` on an RSA type column, or the paper's
table (``labels="paper"``; when the source itself is a paper table it is used by default).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from galcat.catalogues.labels import hubble_labels
from galcat.catalogues.remote import masked_values, resolve_names, vizier_table
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import assemble, check_unique_ids, source_positions
from galcat.catalogues.textio import read_delimited, require_column
from galcat.coords.frames import b1950_to_icrs, parse_sexagesimal
from galcat.errors import GalcatError, where
from galcat.schemes.paper import PAPER_LAYOUTS

_NAME = re.compile(r"^(NGC|IC)\s*0*(\d{1,4})\s*([A-Z]?)$", re.IGNORECASE)


def compact_name(name: str) -> str:
    """``"NGC 221"`` -> ``"NGC0221"``, ``"IC 749"`` -> ``"IC0749"``; other names lose their spaces."""
    text = " ".join(str(name).split())
    match = _NAME.match(text)
    if not match:
        return text.replace(" ", "")
    catalog, number, suffix = match.groups()
    return f"{catalog.upper()}{int(number):04d}{suffix.upper()}"


def read_rsa(
    source=None, labels: str = "rule", paper_labels=None, resolver=None, id_column=None, label_column=None
):
    """Read the RSA into the standard table (objid = compact NGC/IC name; keeps ``pgc``).

    Example::

        t = read_rsa("usethis_rsa2.csv", labels="paper", resolver="openngc:NGC.csv")
        t = read_rsa()                      # VizieR VII/51, rsa_rule_v1 on its Type column
    """
    spec = load_spec("rsa")
    if source is None:
        table = vizier_table(
            spec.source["vizier"], None, [spec.candidates("name"), spec.candidates("vizier_ra")]
        )
        path = f"VizieR {spec.source['vizier']}"
    else:
        path = Path(source)
        table = read_delimited(path, spec.source.get("delimiter", ","), dtype=str)
    name_col = require_column(
        table, [id_column] if id_column else spec.candidates("name"), path, "galaxy name"
    )
    objids = []
    for row, value in enumerate(table[name_col], start=1):
        if np.ma.is_masked(value) or not str(value).strip():
            raise GalcatError(f"{where(path, row, name_col)}empty galaxy name")
        objids.append(compact_name(value))
    check_unique_ids(objids, path, name_col)
    if labels == "paper" and paper_labels is None and source is not None and _is_paper_table(table):
        paper_labels = path
    type_col = None
    if labels == "rule" and label_column:
        type_col = require_column(table, [label_column], path, "RSA type")
    elif labels == "rule":  # a plain name list (Name[,ra,dec]) is unlabelled, not an error
        type_col = next((c for c in spec.candidates("type") if c in table.colnames), None)
    result = hubble_labels(spec, objids, [table[type_col]] if type_col else None, labels, paper_labels)
    ra = dec = None
    extra = {}
    if source is None:
        ra, dec = _b1950_to_icrs(table, spec, path)
    elif resolver is None:
        table, ra, dec = source_positions(table, path)
    if resolver is not None:
        found = resolve_names(objids, resolver)
        ra, dec = masked_values(found["ra"]), masked_values(found["dec"])
        if "pgc" in found.colnames:
            extra["pgc"] = np.ma.MaskedArray(
                masked_values(found["pgc"], int), mask=np.ma.getmaskarray(found["pgc"])
            )
        extra["position_source"] = [str(s) for s in found["source"]] if "source" in found.colnames else None
        extra = {k: v for k, v in extra.items() if v is not None}
    meta = spec.table_meta(path, **result["meta"])
    if resolver is not None:
        meta["resolver"] = resolver if isinstance(resolver, str) else type(resolver).__name__
        meta["n_unresolved"] = int(np.isnan(ra).sum())
    return assemble(
        table,
        objid=objids,
        ra=ra,
        dec=dec,
        hubble9=result["hubble9"],
        hubble11=result["hubble11"],
        reasons=result["reasons"],
        meta=meta,
        extra_front=extra,
    )


def _is_paper_table(table) -> bool:
    return any(i in table.colnames and lab in table.colnames for i, lab, _ in PAPER_LAYOUTS)


def _b1950_to_icrs(table, spec, path):
    """VizieR VII/51 B1950 positions (sexagesimal strings or degrees) -> ICRS degrees."""
    ra_col = require_column(table, spec.candidates("vizier_ra"), path, "B1950 RA")
    dec_col = require_column(table, spec.candidates("vizier_dec"), path, "B1950 Dec")
    ra, dec = table[ra_col], table[dec_col]
    if ra.dtype.kind in "US":
        ra, dec = parse_sexagesimal(ra, dec)
    return b1950_to_icrs(np.asarray(ra, float), np.asarray(dec, float))
