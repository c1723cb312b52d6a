"""User position columns -> ICRS degrees: found by name or UCD, in any notation astropy parses.

Target lists come as degrees (``187.70583``), sexagesimal strings (``12:30:49.4``,
``12h30m49.4s``, ``+12d23m28s``) or numeric columns that carry a unit (``rad``, ``hourangle``).
Sexagesimal RA without explicit units is read as hours (the astronomical convention), Dec as
degrees; a unit written in the string wins (``187d42m`` is degrees). Positions in FK5 or FK4 are
precessed to ICRS with astropy (``SkyCoord.transform_to``). Every unparseable value is a
:class:`GalcatError` naming its row (1-based, as in the user's file) and column.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import FK4, FK5, ICRS, Angle, SkyCoord
from astropy.table import Table
from astropy.time import Time

from galcat.errors import GalcatError, where

#: column-name candidates (compared case-insensitively), most specific first
RA_NAMES = ("ra", "ra_icrs", "raj2000", "_raj2000", "ra_deg", "radeg", "ra_j2000", "alpha", "right_ascension")
DEC_NAMES = ("dec", "de", "dec_icrs", "dej2000", "_dej2000", "decj2000", "dec_deg", "decdeg", "dedeg",
             "dec_j2000", "delta", "declination")  # fmt: skip
FRAMES = ("icrs", "fk5", "fk4")
_DEFAULT_EQUINOX = {"fk5": "J2000", "fk4": "B1950"}


def find_column(table: Table, names=(), ucd: str | None = None, given: str | None = None, path=None):
    """The column named ``given``, else the first of ``names`` (any case), else one whose UCD is ``ucd``.

    Among UCD matches a ``meta.main`` column wins. Returns None when nothing matches; a ``given``
    name that is absent is an error naming the file.
    """
    if given:
        if given in table.colnames:
            return given
        raise GalcatError(
            f"{where(path, column=given)}no such column; found {', '.join(table.colnames[:15])}"
        )
    lowered = {c.lower(): c for c in reversed(table.colnames)}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    if ucd:
        hits = [c for c in table.colnames if _ucd_words(table[c]) and _ucd_words(table[c])[0] == ucd]
        main = [c for c in hits if "meta.main" in _ucd_words(table[c])]
        if main or hits:
            return (main or hits)[0]
    return None


def _ucd_words(column) -> list[str]:
    ucd = (column.meta or {}).get("ucd") or ""
    return [w.strip().lower() for w in str(ucd).split(";") if w.strip()]


def find_position_columns(table: Table, ra: str | None = None, dec: str | None = None, path=None):
    """``(ra_column, dec_column)`` by name or UCD; ``(None, None)`` when the table has no positions."""
    ra_col = find_column(table, RA_NAMES, "pos.eq.ra", ra, path)
    dec_col = find_column(table, DEC_NAMES, "pos.eq.dec", dec, path)
    if (ra_col is None) != (dec_col is None):
        have, lack = ("RA", "Dec") if ra_col else ("Dec", "RA")
        raise GalcatError(
            f"{where(path, column=ra_col or dec_col)}found a {have} column but no {lack} column "
            f"(name it or pass --{lack.lower()}-column)"
        )
    return ra_col, dec_col


def _is_missing(value) -> bool:
    if value is None or value is np.ma.masked:
        return True
    if isinstance(value, float | np.floating):
        return not np.isfinite(value)
    return isinstance(value, str | bytes | np.str_) and not str(value).strip()


def column_degrees(column, kind: str, path=None, name: str | None = None) -> np.ndarray:
    """One position column -> float degrees, NaN where the value is empty or masked.

    ``kind`` is ``"ra"`` or ``"dec"``. Numbers are degrees unless the column has a unit;
    strings are degrees when they are plain numbers, else sexagesimal (RA in hours by default).
    """
    name = name or getattr(column, "name", kind)
    if column.ndim != 1:
        raise GalcatError(
            f"{where(path, column=name)}holds {column.shape[1:]} values per row; a position column holds one"
        )
    n = len(column)
    mask = np.ma.getmaskarray(column)
    out = np.full(n, np.nan)
    unit = angle_unit(getattr(column, "unit", None), path, name)
    if column.dtype.kind in "iuf":
        scale = 1.0 if unit is None else (1.0 * unit).to_value(u.deg)
        values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan) * scale
        out[~mask] = values[~mask]
    else:
        default = unit if unit is not None else (u.hourangle if kind == "ra" else u.deg)
        for i, value in enumerate(column):
            if mask[i] or _is_missing(value):
                continue
            text = value.decode() if isinstance(value, bytes) else str(value)
            try:
                out[i] = float(text)
                if unit is not None:
                    out[i] = (out[i] * unit).to_value(u.deg)
                continue
            except ValueError:
                pass
            try:
                out[i] = Angle(text.strip(), unit=default).deg
            except (ValueError, u.UnitsError, TypeError) as exc:
                raise GalcatError(
                    f"{where(path, i + 1, name)}cannot read {text!r} as {'RA' if kind == 'ra' else 'Dec'} "
                    f"(degrees, sexagesimal or a value with units): {exc}"
                ) from None
    _check_range(out, kind, path, name)
    return out


#: how VizieR, FITS and VOTable writers spell the units of sexagesimal columns (compared lower case)
SEXAGESIMAL_UNITS = {
    "h:m:s": u.hourangle, "hms": u.hourangle, "\"h:m:s\"": u.hourangle, "hourangle": u.hourangle,
    "h": u.hourangle, "hour": u.hourangle, "hr": u.hourangle,
    "d:m:s": u.deg, "dms": u.deg, "\"d:m:s\"": u.deg, "deg:arcmin:arcsec": u.deg,
}  # fmt: skip


def angle_unit(unit, path=None, name: str | None = None):
    """The astropy angle unit of a column's ``unit`` (None when it has none), sexagesimal ones included.

    astropy reads VizieR's ``h:m:s``/``d:m:s`` as unrecognised units; they mean hours and degrees.
    """
    if unit is None:
        return None
    text = str(unit).strip()
    if not text:
        return None
    if text.lower() in SEXAGESIMAL_UNITS:
        return SEXAGESIMAL_UNITS[text.lower()]
    try:
        parsed = u.Unit(text)
        parsed.to(u.deg)
    except (u.UnitsError, ValueError, TypeError):
        raise GalcatError(
            f"{where(path, column=name)}unit {text!r} is not an angle "
            "(use deg, rad, hourangle, h:m:s or d:m:s)"
        ) from None
    return parsed


def _check_range(values: np.ndarray, kind: str, path, name) -> None:
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:  # NaN means unknown; an infinite angle is a mistake
        row = int(infinite[0])
        raise GalcatError(f"{where(path, row + 1, name)}{values[row]} is not a finite angle")
    finite = np.isfinite(values)
    low, high = (0.0, 360.0) if kind == "ra" else (-90.0, 90.0)
    bad = np.flatnonzero(finite & ((values < low) | (values > high)))
    if bad.size:
        row = int(bad[0])
        raise GalcatError(
            f"{where(path, row + 1, name)}{values[row]:.6g} deg is outside [{low:g}, {high:g}] "
            f"({bad.size} row(s) in all)"
        )


def to_icrs(
    ra_deg, dec_deg, frame: str = "icrs", equinox: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Degrees in ``frame`` (icrs, fk5, fk4) at ``equinox`` -> ICRS degrees; NaN rows stay NaN."""
    frame = str(frame).lower()
    if frame not in FRAMES:
        raise GalcatError(f"unknown frame {frame!r}; use one of {', '.join(FRAMES)}")
    ra, dec = np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float)
    if frame == "icrs":
        if equinox:
            raise GalcatError("--equinox applies to fk5 and fk4, not icrs")
        return ra, dec
    try:
        eq = Time(equinox or _DEFAULT_EQUINOX[frame])
    except ValueError as exc:
        raise GalcatError(f"equinox {equinox!r}: {exc} (use e.g. J2000 or B1950)") from None
    system = FK5(equinox=eq) if frame == "fk5" else FK4(equinox=eq)
    known = np.isfinite(ra) & np.isfinite(dec)
    out_ra, out_dec = np.full_like(ra, np.nan), np.full_like(dec, np.nan)
    if known.any():
        coords = SkyCoord(ra[known] * u.deg, dec[known] * u.deg, frame=system).transform_to(ICRS())
        out_ra[known], out_dec[known] = coords.ra.deg, coords.dec.deg
    return out_ra, out_dec


def table_positions(
    table: Table, ra_col: str, dec_col: str, frame: str = "icrs", equinox: str | None = None, path=None
) -> tuple[np.ndarray, np.ndarray]:
    """ICRS degrees of every row (NaN where unknown); a row with only one of RA/Dec is an error."""
    ra = column_degrees(table[ra_col], "ra", path, ra_col)
    dec = column_degrees(table[dec_col], "dec", path, dec_col)
    half = np.flatnonzero(np.isfinite(ra) != np.isfinite(dec))
    if half.size:
        row = int(half[0])
        missing = ra_col if not np.isfinite(ra[row]) else dec_col
        raise GalcatError(f"{where(path, row + 1, missing)}empty while the other coordinate is given")
    return to_icrs(ra, dec, frame, equinox)
