"""Cross-matching catalogues by sky position and by identifier, and removing overlap.

Used to drop RSA galaxies from the EFIGI training set: the paper reports removing about 420
overlapping galaxies, with no code for it (427 of the 4458 EFIGI galaxies share a PGC number with
RSA through OpenNGC); here it is done by PGC number and/or position within a few arcsec.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord, search_around_sky
from astropy.table import Column, MaskedColumn, Table, hstack

from galcat.coords.names import normalise_name, pgc_name
from galcat.coords.positions import DEC_NAMES, RA_NAMES, angle_unit, column_degrees, find_column
from galcat.errors import GalcatError, where
from galcat.tables import ensure_columns, finite_positions

DEFAULT_RADIUS = 5 * u.arcsec
MATCH_BY = ("sky", "id", "both")  # the ways two tables are matched


def parse_radius(radius) -> u.Quantity:
    """'5arcsec', '3 arcsec', '0.001 deg', a Quantity, or a bare number (arcsec) -> angle Quantity."""
    if isinstance(radius, u.Quantity):
        quantity = radius
    else:
        try:
            quantity = float(radius) * u.arcsec
        except (TypeError, ValueError):
            try:
                quantity = u.Quantity(str(radius).replace(" ", ""))
            except (TypeError, ValueError) as exc:
                raise GalcatError(f"bad radius {radius!r}: {exc} (write e.g. 5arcsec)") from None
    if not quantity.unit.is_equivalent(u.deg) or not quantity.isscalar:
        raise GalcatError(f"radius must be a positive angle, got {radius!r}")
    from galcat.ranges import bound, check_number

    check_number(float(quantity.to_value(u.arcsec)), f"radius {radius!r} in arcsec", **bound("radius_arcsec"))
    return quantity.to(u.arcsec)


def _in_degrees(column, kind: str, label: str):
    """A position column as float degrees: numbers in degrees as they are, anything else (sexagesimal
    text, VizieR's h:m:s, numbers with an angle unit) read as target lists read it, masked where empty."""
    if (
        column.dtype.kind in "iuf"
        and column.ndim == 1
        and angle_unit(column.unit, label, column.name) in (None, u.deg)
    ):
        return column
    values = column_degrees(column, kind, label, column.name)
    return MaskedColumn(values, name=column.name, mask=~np.isfinite(values))


def _coords(table: Table, ra: str, dec: str, label: str) -> tuple[SkyCoord, np.ndarray]:
    if (ra, dec) == ("ra", "dec") and not {ra, dec} & set(table.colnames):  # as target lists find them
        found = find_column(table, RA_NAMES, "pos.eq.ra"), find_column(table, DEC_NAMES, "pos.eq.dec")
        ra, dec = found if None not in found else (ra, dec)
    ensure_columns(table, (ra, dec), label)
    degrees = Table(
        [_in_degrees(table[ra], "ra", label), _in_degrees(table[dec], "dec", label)], names=(ra, dec)
    )
    usable = finite_positions(degrees, ra, dec, path=label)
    rows = np.flatnonzero(usable)
    ra_v = np.asarray(np.ma.filled(np.ma.asarray(degrees[ra], dtype=float)[rows], np.nan))
    dec_v = np.asarray(np.ma.filled(np.ma.asarray(degrees[dec], dtype=float)[rows], np.nan))
    return SkyCoord(ra_v * u.deg, dec_v * u.deg), rows


def sky_pairs(a: Table, b: Table, radius, *, ra=("ra", "ra"), dec=("dec", "dec"), nearest: bool = True):
    """Row pairs (ia, ib, separation arcsec) closer than ``radius``.

    ``nearest=True`` keeps for each row of ``a`` only its nearest row of ``b``.
    Rows with masked positions never match; NaN positions are an error.
    """
    radius = parse_radius(radius)
    coords_a, rows_a = _coords(a, ra[0], dec[0], "table A")
    coords_b, rows_b = _coords(b, ra[1], dec[1], "table B")
    if len(rows_a) == 0 or len(rows_b) == 0:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    ia, ib, sep, _ = search_around_sky(coords_a, coords_b, radius)
    sep = sep.to_value(u.arcsec)
    if nearest and len(ia):
        order = np.lexsort((sep, ia))
        ia, ib, sep = ia[order], ib[order], sep[order]
        first = np.r_[True, ia[1:] != ia[:-1]]
        ia, ib, sep = ia[first], ib[first], sep[first]
    return rows_a[ia], rows_b[ib], sep


def identifier_keys(column) -> np.ndarray:
    """Compact identifiers of a column: numbers (and digit strings) are PGC numbers, names are normalised."""
    values = np.ma.asarray(column)
    mask = np.ma.getmaskarray(values)
    keys = np.empty(len(values), dtype=object)
    numeric = values.dtype.kind in "iuf"
    for i, (value, masked) in enumerate(zip(values.data, mask, strict=True)):
        if masked or (numeric and not np.isfinite(value)):
            keys[i] = None
        elif numeric:  # PGC numbers, possibly stored as float by pandas
            keys[i] = pgc_name(int(value)) if value > 0 and float(value).is_integer() else None
        else:
            text = str(value).strip()
            keys[i] = (pgc_name(int(text)) if text.isdigit() else normalise_name(text)) if text else None
    return keys


def id_pairs(a: Table, b: Table, key: str = "pgc", key_b: str | None = None):
    """Row pairs (ia, ib) whose identifiers agree after normalisation (PGC/NGC/IC/UGC forms)."""
    key_b = key_b or key
    ensure_columns(a, [key], "table A")
    ensure_columns(b, [key_b], "table B")
    index: dict[str, list[int]] = {}
    for j, k in enumerate(identifier_keys(b[key_b])):
        if k is not None:
            index.setdefault(k, []).append(j)
    pairs = [(i, j) for i, k in enumerate(identifier_keys(a[key])) if k is not None for j in index.get(k, ())]
    if not pairs:
        return np.empty(0, int), np.empty(0, int)
    ia, ib = np.array(pairs).T
    return ia, ib


def _joined(a: Table, b: Table, ia, ib, sep, by) -> Table:
    left, right = a[ia], b[ib]
    if len(ia) == 0:
        left, right = a[:0], b[:0]
    out = hstack([left, right], table_names=["a", "b"], join_type="exact", metadata_conflicts="silent")
    out["row_a"] = Column(np.asarray(ia, dtype=np.int64), description="row in table A")
    out["row_b"] = Column(np.asarray(ib, dtype=np.int64), description="row in table B")
    out["separation"] = Column(np.asarray(sep, dtype=float), unit=u.arcsec, description="angular separation")
    out["separation"].meta["ucd"] = "pos.angDistance"
    out["match_by"] = Column(np.asarray(by, dtype=str) if len(by) else np.array([], dtype="U4"))
    return out


def _separation(a, b, ia, ib, ra=("ra", "ra"), dec=("dec", "dec")) -> np.ndarray:
    if not all(c in t.colnames for t, c in ((a, ra[0]), (a, dec[0]), (b, ra[1]), (b, dec[1]))) or not len(ia):
        return np.full(len(ia), np.nan)
    ca = SkyCoord(
        np.ma.filled(np.ma.asarray(a[ra[0]], float)[ia], np.nan) * u.deg,
        np.ma.filled(np.ma.asarray(a[dec[0]], float)[ia], np.nan) * u.deg,
    )
    cb = SkyCoord(
        np.ma.filled(np.ma.asarray(b[ra[1]], float)[ib], np.nan) * u.deg,
        np.ma.filled(np.ma.asarray(b[dec[1]], float)[ib], np.nan) * u.deg,
    )
    return ca.separation(cb).to_value(u.arcsec)


def crossmatch_sky(a: Table, b: Table, radius=DEFAULT_RADIUS, *, nearest: bool = True) -> Table:
    """Rows of ``a`` with their (nearest) ``b`` counterpart within ``radius``, with ``separation`` ("")."""
    ia, ib, sep = sky_pairs(a, b, radius, nearest=nearest)
    return _joined(a, b, ia, ib, sep, ["sky"] * len(ia))


def crossmatch_ids(a: Table, b: Table, key: str = "pgc", key_b: str | None = None) -> Table:
    """Rows of ``a`` and ``b`` whose normalised identifiers (column ``key``) agree."""
    ia, ib = id_pairs(a, b, key, key_b)
    return _joined(a, b, ia, ib, _separation(a, b, ia, ib), ["id"] * len(ia))


def crossmatch(
    a: Table, b: Table, radius=DEFAULT_RADIUS, *, by: str = "sky", key: str = "pgc", key_b: str | None = None
) -> Table:
    """``by='sky'``, ``'id'`` or ``'both'`` (union; ``match_by`` names the method per pair).

    The radius is checked whatever ``by`` is, so a bad one never passes unnoticed.
    """
    if by not in MATCH_BY:
        raise GalcatError(f"--by must be sky, id or both, not {by!r}")
    parse_radius(radius)
    if by == "sky":
        return crossmatch_sky(a, b, radius)
    if by == "id":
        return crossmatch_ids(a, b, key, key_b)
    found: dict[tuple[int, int], set] = {}
    ia, ib, _ = sky_pairs(a, b, radius)
    for pair in zip(ia.tolist(), ib.tolist(), strict=True):
        found.setdefault(pair, set()).add("sky")
    ia, ib = id_pairs(a, b, key, key_b)
    for pair in zip(ia.tolist(), ib.tolist(), strict=True):
        found.setdefault(pair, set()).add("id")
    pairs = sorted(found)
    ia = np.array([p[0] for p in pairs], dtype=int)
    ib = np.array([p[1] for p in pairs], dtype=int)
    by_labels = ["both" if len(found[p]) == 2 else next(iter(found[p])) for p in pairs]
    return _joined(a, b, ia, ib, _separation(a, b, ia, ib), by_labels)


def crossmatch_files(
    a, b, radius=DEFAULT_RADIUS, *, by: str = "sky", key: str = "pgc", key_b=None, reader=None
) -> Table:
    """Cross-match two catalogue files; when either is a HATS catalogue, lsdb matches them on Dask.

    HATS catalogues are matched by sky position only (nearest neighbour of each A row in B within
    ``radius``); small tables are read into memory and matched with astropy. ``reader`` reads a
    file (default :func:`galcat.tables.read_table`; the CLI passes the one reader of user tables,
    :func:`galcat.catalogues.targets.read_user_table`).
    """
    from galcat.hats import crossmatch_hats, is_hats
    from galcat.tables import read_table

    read_table = reader or read_table
    parse_radius(radius)  # before reading anything
    if is_hats(a) or is_hats(b):
        if by != "sky":
            raise GalcatError(f"HATS catalogues are cross-matched by sky position: use --by sky, not {by!r}")
        left = a if is_hats(a) else read_table(a)
        right = b if is_hats(b) else read_table(b)
        return crossmatch_hats(left, right, parse_radius(radius).to_value(u.arcsec))
    return crossmatch(read_table(a), read_table(b), radius, by=by, key=key, key_b=key_b)


def overlap_methods(a: Table, b: Table, key: str = "pgc") -> tuple[str, ...]:
    """The methods both tables support: ``id`` when both have a ``key`` column, ``sky`` when both
    have some finite ``ra``/``dec``."""

    def has_positions(table: Table) -> bool:
        if "ra" not in table.colnames or "dec" not in table.colnames:
            return False
        return bool(np.isfinite(np.ma.filled(np.ma.asarray(table["ra"], dtype=float), np.nan)).any())

    methods = [
        ("id", key in a.colnames and key in b.colnames),
        ("sky", has_positions(a) and has_positions(b)),
    ]
    return tuple(method for method, usable in methods if usable)


def crossmatch_to_file(a, b, out, *, overwrite: bool = False, **options) -> Table:
    """:func:`crossmatch_files` of ``a`` and ``b`` written to ``out`` (format from its extension,
    checked before any work); returns the matched pairs."""
    from galcat.paths import check_table_output, refuse_overwriting_inputs
    from galcat.tables import table_format, write_table

    table_format(out)
    refuse_overwriting_inputs({"--out": out}, {"TABLE_A": a, "TABLE_B": b})
    check_table_output(out, overwrite)
    if Path(out).exists() and not overwrite:
        raise GalcatError(f"{out}: already exists; pass --overwrite to replace it")
    matched = crossmatch_files(a, b, **options)
    write_table(matched, out, overwrite=overwrite)
    return matched


def exclude_overlap(
    train: Table,
    test: Table,
    radius=DEFAULT_RADIUS,
    by: Sequence[str] = ("id", "sky"),
    *,
    key: str = "pgc",
    key_test: str | None = None,
) -> tuple[Table, dict]:
    """Drop from ``train`` every row that is also in ``test`` (by identifier and/or position).

    Returns the filtered table and a report: ``n_train``, ``n_test``, ``by_id``/``by_sky`` (train rows
    each method found), ``removed`` (their union), ``kept`` and ``removed_rows`` (train row numbers).
    """
    methods = (by,) if isinstance(by, str) else tuple(by)
    unknown = set(methods) - {"id", "sky"}
    if unknown or not methods:
        raise GalcatError(f"{where(column='by')}use 'id' and/or 'sky', not {sorted(unknown) or methods}")
    hit = {}
    if "id" in methods:
        hit["id"] = set(id_pairs(train, test, key, key_test)[0].tolist())
    if "sky" in methods:
        hit["sky"] = set(sky_pairs(train, test, radius, nearest=True)[0].tolist())
    removed = sorted(set().union(*hit.values()))
    keep = np.ones(len(train), dtype=bool)
    keep[removed] = False
    report = {"n_train": len(train), "n_test": len(test), "radius_arcsec": float(parse_radius(radius).value)}
    for method, rows in hit.items():
        report[f"by_{method}"] = len(rows)
    if len(hit) == 2:
        report["by_both"] = len(hit["id"] & hit["sky"])
    report.update(removed=len(removed), kept=int(keep.sum()), removed_rows=removed)
    filtered = train[keep]
    filtered.meta["overlap_removed"] = {k: v for k, v in report.items() if k != "removed_rows"}
    return filtered, report
