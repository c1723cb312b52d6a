"""Offline name resolution from the OpenNGC database (NGC.csv + addendum.csv, ';'-separated).

Every object is indexed by its compact name and by the compact form of each identifier it lists
(``PGC 040153``, ``UGC 07450``, Messier number), so 'M 100', 'PGC0040153' and 'NGC 4321' all land
on NGC4321. 'Dup' rows point (via their NGC / IC column) at the real object and inherit its
identifiers; 'NonEx' rows resolve to nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from galcat.coords.frames import parse_sexagesimal
from galcat.coords.names import normalise_name, parse_pgc
from galcat.coords.resolve import Resolver
from galcat.errors import GalcatError, where

REQUIRED_COLUMNS = ("Name", "Type", "RA", "Dec", "Identifiers")


def _read_openngc_file(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise GalcatError(f"{where(path)}cannot read OpenNGC file: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise GalcatError(f"{where(path, column=missing[0])}missing from OpenNGC file (';'-separated?)")
    for optional in ("NGC", "IC", "M", "Common names"):
        if optional not in frame.columns:
            frame[optional] = ""
    return frame


def load_openngc(path: Path) -> pd.DataFrame:
    """NGC.csv (+ addendum.csv beside it) with ``ra``/``dec`` degrees and a ``pgc`` column."""
    path = Path(path)
    files = [path / "NGC.csv", path / "addendum.csv"] if path.is_dir() else [path]
    if not files[0].exists():
        raise GalcatError(f"{where(files[0])}OpenNGC file not found")
    frame = pd.concat([_read_openngc_file(f) for f in files if f.exists()], ignore_index=True)
    ra, dec = parse_sexagesimal(frame["RA"].to_numpy(), frame["Dec"].to_numpy())
    frame["ra"], frame["dec"] = ra, dec
    frame["pgc"] = [_pgc_from_identifiers(ids) for ids in frame["Identifiers"]]
    return frame


def _pgc_from_identifiers(identifiers: str) -> int | None:
    for ident in identifiers.split(","):
        ident = ident.strip()
        if ident.upper().startswith(("PGC", "LEDA")):
            return parse_pgc(ident)
    return None


def _master_name(row) -> str | None:
    """The object a 'Dup' row duplicates, from its NGC / IC cross-reference column."""
    for prefix in ("NGC", "IC"):
        ref = row[prefix].split(",")[0].strip()
        if ref:
            return normalise_name(f"{prefix}{ref}")
    return None


class OpenNGCResolver(Resolver):
    """Resolve NGC/IC/PGC/UGC/Messier names offline through OpenNGC."""

    name = "openngc"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.table = load_openngc(self.path)
        self._index = self._build_index()

    def _build_index(self) -> dict[str, int]:
        frame = self.table
        primary = {normalise_name(n): i for i, n in enumerate(frame["Name"])}
        index = dict(primary)
        # Dup rows: point the duplicate's name at the master row.
        for i in np.flatnonzero(frame["Type"].to_numpy() == "Dup"):
            master = _master_name(frame.iloc[i])
            if master in primary and frame["Type"].iat[primary[master]] != "Dup":
                index[normalise_name(frame["Name"].iat[i])] = primary[master]
        aliases: dict[str, int] = {}
        for i, (ids, messier, kind) in enumerate(
            zip(frame["Identifiers"], frame["M"], frame["Type"], strict=True)
        ):
            if kind in ("Dup", "NonEx"):
                continue
            names = [s for s in ids.split(",") if s.strip()]
            if messier.strip():
                names.append(f"M{messier.strip()}")
            for alias in names:
                aliases.setdefault(normalise_name(alias), i)
        for alias, i in aliases.items():
            index.setdefault(alias, i)
        return index

    def _lookup(self, names: Sequence[str]) -> dict[str, tuple]:
        found = {}
        frame = self.table
        for name in names:
            i = self._index.get(normalise_name(name))
            if i is None or frame["Type"].iat[i] == "NonEx":
                continue
            ra, dec = frame["ra"].iat[i], frame["dec"].iat[i]
            if not (np.isfinite(ra) and np.isfinite(dec)):
                continue
            pgc = frame["pgc"].iat[i]
            pgc = None if pgc is None or pd.isna(pgc) else int(pgc)
            found[name] = (float(ra), float(dec), pgc, frame["Name"].iat[i], "openngc")
        return found
