"""Galaxy Zoo 2 reader: Hart+2016 ``gz2_hart16.csv`` (local or URL) or the Stripe 82 vote table.

``hubble11``/``hubble9`` come from ``gz2_rule_v1`` (RECONSTRUCTED, see galcat.schemes.gz2) on
``gz2_class``; a table without that column (Willett+2013 table 5) keeps masked labels with the
reason. ``meta['vote_columns']`` lists the 37 ``tNN_..._fraction`` columns in t01..t11 order.
"""

from __future__ import annotations

import re
from pathlib import Path

from galcat.catalogues.labels import hubble_labels
from galcat.catalogues.remote import fetch_url
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import assemble, check_finite_positions, check_unique_ids
from galcat.catalogues.textio import read_delimited, require_column

_VOTE = re.compile(r"^t(\d\d)_[a-z0-9_]+_a(\d\d)_[a-z0-9_]+?_fraction$")
N_VOTE_COLUMNS = 37


def vote_columns(colnames) -> list[str]:
    """The per-answer ``_fraction`` columns (not ``_weighted_fraction``), ordered by task.

    Within a task the file order is kept (Hart16 lists t08's dust lane, a38, after a24).
    """
    votes = [c for c in colnames if _VOTE.match(c) and not c.endswith("_weighted_fraction")]
    return sorted(votes, key=lambda c: int(_VOTE.match(c).group(1)))


def read_gz2(source=None, labels: str = "rule", paper_labels=None, label_column=None):
    """Read a GZ2 table into the standard table (objid = DR7 objid as a string).

    ``source``: local CSV (plain or .gz) or an http(s) URL (downloaded once into
    ``$GALCAT_CACHE_DIR/catalogues``); None uses the spec's public URL.

    Example::

        t = read_gz2("gz2_hart16.csv.gz")           # hubble11 by gz2_rule_v1 (reconstructed)
        t = read_gz2("table5.csv.gz")               # Stripe 82 votes: labels masked, votes kept
    """
    spec = load_spec("gz2")
    source = source if source is not None else spec.url
    path = fetch_url(source) if str(source).startswith(("http://", "https://")) else Path(source)
    id_candidates = spec.candidates("objid")
    table = read_delimited(path, spec.source.get("delimiter", ","), dtype={c: str for c in id_candidates})
    id_col = require_column(table, id_candidates, source, "DR7 objid")
    ra_col = require_column(table, spec.candidates("ra"), source, "ra")
    dec_col = require_column(table, spec.candidates("dec"), source, "dec")
    check_finite_positions(table, ra_col, dec_col, source)
    objids = [str(v).strip() for v in table[id_col]]
    check_unique_ids(objids, source, id_col)
    class_col = label_column or next((c for c in spec.candidates("gz2_class") if c in table.colnames), None)
    if label_column:
        require_column(table, label_column, source, "gz2_class")
    result = hubble_labels(spec, objids, [table[class_col]] if class_col else None, labels, paper_labels)
    meta = spec.table_meta(source, **result["meta"])
    votes = vote_columns(table.colnames)
    if votes:
        meta["vote_columns"] = votes
    return assemble(
        table,
        objid=objids,
        ra=table[ra_col],
        dec=table[dec_col],
        hubble9=result["hubble9"],
        hubble11=result["hubble11"],
        reasons=result["reasons"],
        meta=meta,
    )
