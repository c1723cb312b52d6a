"""Remote name resolution (SIMBAD TAP via astroquery, CDS Sesame) with a disk cache.

Every answer, including "not found", is written to ``<cache_dir>/<service>_names.ecsv`` keyed by
the compact name, so a second run over the same names sends no request at all. Both services go
through :class:`galcat.net.Session` (retries, timeouts, a per-host rate limit of 5 requests/s:
SIMBAD asks for at most ~6). Service URLs can be redirected (mirrors, replay tests) with ``url=``
or the environment variables ``GALCAT_SIMBAD_URL`` (TAP base, e.g.
``https://simbad.harvard.edu/simbad/sim-tap``) and ``GALCAT_SESAME_URL``; the cache folder with
``cache_dir=`` (default ``$GALCAT_CACHE_DIR/names``).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.table import Table

from galcat.atomic import atomic_path
from galcat.coords.names import normalise_name, parse_pgc
from galcat.coords.resolve import Resolver
from galcat.errors import GalcatError, NetworkError, where
from galcat.net import HttpConfig, Session, cache_dir
from galcat.net.vo import on_session, service_errors


class NameCache:
    """Resolved names of one service as an ECSV table: key, ra, dec, pgc (-1 = none), main_id."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, tuple] = {}
        if self.path.exists():
            try:
                table = Table.read(self.path, format="ascii.ecsv")
                for row in table:
                    pgc = int(row["pgc"])
                    self.entries[str(row["key"])] = (
                        float(row["ra"]),
                        float(row["dec"]),
                        pgc if pgc > 0 else None,
                        str(row["main_id"]),
                    )
            except Exception as exc:  # noqa: BLE001 - a corrupt cache is a user-fixable file problem
                raise GalcatError(f"{where(self.path)}unreadable name cache ({exc}); delete it") from None

    def get(self, name: str):
        return self.entries.get(normalise_name(name))

    def __contains__(self, name: str) -> bool:
        return normalise_name(name) in self.entries

    def update(self, answers: dict[str, tuple]) -> None:
        """Store ``name -> (ra, dec, pgc, main_id)``; NaN ra/dec records 'not found'."""
        for name, value in answers.items():
            self.entries[normalise_name(name)] = value
        self.save()

    def save(self) -> None:
        keys = sorted(self.entries)
        values = [self.entries[k] for k in keys]
        table = Table(
            {
                "key": np.array(keys, dtype=str),
                "ra": np.array([v[0] for v in values], dtype=float),
                "dec": np.array([v[1] for v in values], dtype=float),
                "pgc": np.array([v[2] or -1 for v in values], dtype=np.int64),
                "main_id": np.array([v[3] for v in values], dtype=str),
            }
        )
        with atomic_path(self.path) as tmp:
            table.write(tmp, format="ascii.ecsv")


def default_names_dir() -> Path:
    return cache_dir("names")


class CachedRemoteResolver(Resolver):
    """Shared logic: answer from the cache, ask the service only for the rest, remember everything."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        use_cache: bool = True,
        timeout=(5.0, 30.0),
        retries: int = 3,
        backoff: float = 0.5,
        rate_per_second: float = 5.0,
    ):
        self.cache = (
            NameCache(Path(cache_dir or default_names_dir()) / f"{self.name}_names.ecsv")
            if use_cache
            else None
        )
        self.http = HttpConfig(
            timeout=timeout, retries=retries, backoff=backoff, max_rate=rate_per_second, max_bytes=None
        )

    label = "remote"
    url: str | None = None

    @cached_property
    def session(self) -> Session:
        return Session(self.http, service=f"{self.label} ({self.url})")

    def _lookup(self, names: Sequence[str]) -> dict[str, tuple]:
        todo = [n for n in names if self.cache is None or n not in self.cache]
        answers = self._query(todo) if todo else {}
        for name in todo:  # remember misses too, so they are not asked again
            answers.setdefault(name, (np.nan, np.nan, None, ""))
        if self.cache is not None and answers:
            self.cache.update(answers)
        found = {}
        for name in names:
            value = answers.get(name) or (self.cache.get(name) if self.cache else None)
            if value is not None and np.isfinite(value[0]):
                pgc = value[2] if value[2] is not None else parse_pgc_name(name)
                found[name] = (value[0], value[1], pgc, value[3], self.name)
        return found

    def _query(self, names: Sequence[str]) -> dict[str, tuple]:
        raise NotImplementedError


def parse_pgc_name(name: str) -> int | None:
    compact = normalise_name(name)
    return parse_pgc(compact) if compact.startswith("PGC") else None


class SimbadResolver(CachedRemoteResolver):
    """SIMBAD via ``astroquery.simbad`` ``query_objects`` (one TAP upload query per batch)."""

    name = "simbad"
    label = "SIMBAD"

    def __init__(
        self, cache_dir: Path | None = None, *, url: str | None = None, batch_size: int = 500, **kwargs
    ):
        super().__init__(cache_dir, **kwargs)
        from astroquery.simbad import conf

        self.url = url or os.environ.get("GALCAT_SIMBAD_URL") or f"https://{conf.server}/simbad/sim-tap"
        self.batch_size = batch_size
        self._simbad = None

    def _client(self):
        if self._simbad is None:
            self._simbad = _simbad_client(self.url, self.session)
        return self._simbad

    def _query(self, names: Sequence[str]) -> dict[str, tuple]:
        answers: dict[str, tuple] = {}
        for start in range(0, len(names), self.batch_size):
            batch = list(names[start : start + self.batch_size])
            with service_errors(self.session.service):
                table = self._client().query_objects(batch)
            answers.update(_simbad_answers(batch, table))
        return answers


def _simbad_client(tap_url: str, session: Session):
    """An astroquery ``SimbadClass`` talking to ``tap_url`` through ``session``."""
    from astroquery.simbad import SimbadClass
    from pyvo.dal import TAPService

    class _Simbad(SimbadClass):
        @property
        def tap(self):
            if self._tap is None:
                self._tap = TAPService(baseurl=tap_url, session=self._session)
            return self._tap

        @property
        def hardlimit(self):  # avoids a capabilities round trip; batches are far below this
            return 100_000

    return on_session(_Simbad(), session)


def _simbad_answers(batch: Sequence[str], table: Table) -> dict[str, tuple]:
    """Map each asked name to (ra, dec, pgc, main_id) from a query_objects result."""
    key_column = "user_specified_id" if "user_specified_id" in table.colnames else "matched_id"
    if key_column not in table.colnames or not {"ra", "dec", "main_id"} <= set(table.colnames):
        raise NetworkError(f"SIMBAD answered with unexpected columns {table.colnames}")
    wanted: dict[str, list[str]] = {}
    for name in batch:
        wanted.setdefault(normalise_name(name), []).append(name)
    answers: dict[str, tuple] = {}
    for row in table:
        if np.ma.is_masked(row["ra"]) or np.ma.is_masked(row["dec"]):
            continue
        main_id = " ".join(str(row["main_id"]).split())
        for asked in wanted.get(normalise_name(str(row[key_column])), ()):
            answers.setdefault(asked, (float(row["ra"]), float(row["dec"]), parse_pgc_name(main_id), main_id))
    return answers


class SesameResolver(CachedRemoteResolver):
    """CDS Sesame, one GET per name (``{mirror}/SNV?{name}``: SIMBAD, then NED, then VizieR)."""

    name = "sesame"
    label = "Sesame"

    def __init__(self, cache_dir: Path | None = None, *, url: str | None = None, **kwargs):
        super().__init__(cache_dir, **kwargs)
        from astropy.coordinates import name_resolve

        self.mirrors = [url or os.environ.get("GALCAT_SESAME_URL") or ""]
        if not self.mirrors[0]:
            self.mirrors = list(name_resolve.sesame_url.get())
        self.url = self.mirrors[0]

    def _query(self, names: Sequence[str]) -> dict[str, tuple]:
        answers = {}
        for name in names:
            position = self._ask(name)
            if position is not None:
                answers[name] = (*position, parse_pgc_name(name), name)
        return answers

    def _ask(self, name: str) -> tuple[float, float] | None:
        """(ra, dec) from the first mirror that answers; None when Sesame does not know the name."""
        error: NetworkError | None = None
        for mirror in self.mirrors:
            try:
                response = self.session.get(sesame_query_url(mirror, name))
            except NetworkError as exc:
                error = exc
                continue
            if response.status_code != 200:
                error = NetworkError(f"Sesame ({mirror}) answered HTTP {response.status_code} for {name!r}")
                continue
            return parse_sesame(response.text)
        assert error is not None
        raise error


_SESAME_J2000 = re.compile(r"^%J\s+([0-9.]+)\s+([-+]?[0-9.]+)", re.MULTILINE)


def parse_sesame(text: str) -> tuple[float, float] | None:
    """ICRS (ra, dec) in degrees from the first ``%J`` line of a Sesame answer, None if there is none."""
    match = _SESAME_J2000.search(text)
    return (float(match[1]), float(match[2])) if match else None


def sesame_query_url(base: str, name: str, db: str = "SNV") -> str:
    """The GET for ``name`` on the Sesame mirror ``base``."""
    return base.rstrip("/") + f"/{db}?{urllib.parse.quote(name)}"
