"""Catalogue identifiers in one compact form, so names from different files compare equal.

The paper's files key galaxies as ``NGC0221`` / ``IC0749`` (4-digit zero padded, no space) and EFIGI
as ``PGC0000212`` (7 digits); OpenNGC writes ``PGC 040153`` and SIMBAD ``NGC  4321``.
"""

from __future__ import annotations

import re

import numpy as np

_CATALOGUE_PATTERNS = (
    # (regex, formatter)
    (re.compile(r"^(NGC|IC)\s*0*(\d+)\s*([A-Z]?)$"), lambda m: f"{m[1]}{int(m[2]):04d}{m[3]}"),
    (re.compile(r"^(?:PGC|LEDA)\s*0*(\d+)$"), lambda m: f"PGC{int(m[1]):07d}"),
    (re.compile(r"^UGC\s*0*(\d+)\s*([A-Z]?)$"), lambda m: f"UGC{int(m[1]):05d}{m[2]}"),
    (re.compile(r"^(?:M|MESSIER)\s*0*(\d+)$"), lambda m: f"M{int(m[1]):03d}"),
)
_PGC = re.compile(r"^\s*(?:PGC|LEDA)?\s*0*(\d+)\s*$", re.IGNORECASE)


def normalise_name(name: str) -> str:
    """Compact upper-case identifier: 'ngc 221' -> 'NGC0221', 'PGC 40153' -> 'PGC0040153'.

    Names of other catalogues are upper-cased with whitespace removed, so that 'Arp 240' and
    'ARP240' still compare equal.
    """
    text = " ".join(str(name).strip().upper().split())
    for pattern, fmt in _CATALOGUE_PATTERNS:
        match = pattern.match(text)
        if match:
            return fmt(match)
    return text.replace(" ", "")


def parse_pgc(value) -> int | None:
    """PGC number from 'PGC 040153', 'PGC0040153', 'LEDA 40153', '40153' or an int; None otherwise."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, int | np.integer):
        return int(value) if value > 0 else None
    match = _PGC.match(str(value))
    if not match:
        return None
    number = int(match[1])
    return number if number > 0 else None


def pgc_name(number: int) -> str:
    """EFIGI-style name of a PGC number: 40153 -> 'PGC0040153'."""
    return f"PGC{int(number):07d}"
