"""Reference frames and position parsing.

RSA positions are B1950 (FK4); everything galcat stores is ICRS degrees. Sexagesimal parsing
is vectorised for the common ``hh:mm:ss`` / ``dd:mm:ss`` form (OpenNGC has 14k rows) and falls
back to astropy's general parser for anything else.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import FK4, ICRS, Angle, SkyCoord

from galcat.errors import GalcatError


def b1950_to_icrs(ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray]:
    """Precess FK4 B1950 positions (deg, scalars or arrays) to ICRS degrees."""
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float))
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float))
    if ra.shape != dec.shape:
        raise GalcatError(f"ra and dec differ in length ({ra.size} vs {dec.size})")
    coords = SkyCoord(ra * u.deg, dec * u.deg, frame=FK4(equinox="B1950")).transform_to(ICRS())
    out_ra, out_dec = coords.ra.deg, coords.dec.deg
    if np.ndim(ra_deg) == 0:
        return float(out_ra[0]), float(out_dec[0])
    return out_ra, out_dec


def _split_colon(values: np.ndarray) -> np.ndarray | None:
    """(n, 3) float parts of 'a:b:c' strings (sign kept on the first part), or None if any differs."""
    parts = np.char.split(values.astype(str), ":")
    if any(len(p) != 3 for p in parts):
        return None
    try:
        return np.array([[float(x) for x in p] for p in parts])
    except ValueError:
        return None


def _sexagesimal_to_deg(values: np.ndarray, unit, label: str) -> np.ndarray:
    result = np.full(values.shape, np.nan)
    present = np.array([bool(str(v).strip()) for v in values], dtype=bool)
    if not present.any():
        return result
    texts = np.array([str(v).strip() for v in values[present]])
    parts = _split_colon(texts)
    if parts is not None:
        sign = np.where(np.char.startswith(texts, "-"), -1.0, 1.0)
        magnitude = np.abs(parts[:, 0]) + parts[:, 1] / 60 + parts[:, 2] / 3600
        scale = 15.0 if unit is u.hourangle else 1.0
        result[present] = sign * magnitude * scale
        return result
    try:
        result[present] = Angle(list(texts), unit=unit).deg
    except (ValueError, u.UnitsError) as exc:
        raise GalcatError(f"cannot parse {label} value(s) as sexagesimal: {exc}") from None
    return result


def parse_sexagesimal(ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """RA 'hh:mm:ss.s' and Dec '+dd:mm:ss' strings (arrays) -> degrees; empty strings -> NaN."""
    ra_arr = np.atleast_1d(np.asarray(ra, dtype=object))
    dec_arr = np.atleast_1d(np.asarray(dec, dtype=object))
    ra_deg = _sexagesimal_to_deg(ra_arr, u.hourangle, "RA")
    dec_deg = _sexagesimal_to_deg(dec_arr, u.deg, "Dec")
    bad = (ra_deg < 0) | (ra_deg >= 360) | (np.abs(dec_deg) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GalcatError(f"position out of range at index {i}: RA {ra_arr[i]!r}, Dec {dec_arr[i]!r}")
    return ra_deg, dec_deg
