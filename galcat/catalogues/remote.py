"""The network paths of the readers: VizieR (astroquery), URLs, resolvers, all through galcat.net.

Each fails fast with a :class:`NetworkError` naming the service when it cannot be reached, so
the CLI prints one line instead of hanging or printing a traceback. ``GALCAT_VIZIER_SERVER``
points astroquery at another VizieR mirror (tests use a local HTTP server).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from galcat.errors import GalcatError, NetworkError
from galcat.net import DiskCache, HttpConfig, Session, cache_dir

TIMEOUT_S = float(os.environ.get("GALCAT_NET_TIMEOUT", "30"))


def vizier_table(catalog_id: str, table_hint: str | None = None, required=()) -> Table:
    """All rows and columns of one table of a VizieR catalogue (galcat.coords.vizier, astroquery).

    ``table_hint`` picks the table whose name contains it; otherwise the first table holding all
    ``required`` columns (any of each candidate list), else the largest.
    """
    from galcat.coords.vizier import fetch_vizier_catalogue

    tables = fetch_vizier_catalogue(catalog_id, timeout=TIMEOUT_S, retries=1)
    if table_hint:
        for table in tables:
            if table_hint in str(table.meta.get("name", "")):
                return table
    for table in tables:
        if all(any(c in table.colnames for c in ([r] if isinstance(r, str) else r)) for r in required):
            return table
    return max(tables, key=len)


def fetch_url(url: str) -> Path:
    """Download ``url`` once into ``$GALCAT_CACHE_DIR/catalogues`` and return the local file."""
    cache = DiskCache(cache_dir("catalogues"))
    path = cache.path_for(url)
    if path.is_file():
        return path
    config = HttpConfig(timeout=TIMEOUT_S, retries=2, max_bytes=None, total_timeout=3600)
    try:
        response = Session(config).get(url)
    except NetworkError as exc:
        raise NetworkError(f"{url}: download failed: {_short(exc)}") from None
    if response.status_code != 200:
        raise NetworkError(f"{url}: download failed: HTTP {response.status_code} {response.reason}")
    return cache.put(url, response.content)


def resolve_names(names, resolver) -> Table:
    """Resolve names to ICRS via ``galcat.coords.get_resolver(spec).resolve(names)``.

    ``resolver`` is a spec string (``"simbad"``, ``"openngc:PATH"``) or an object with
    ``.resolve``. Returns the resolver's Table (name, ra, dec masked if not found, pgc, source).
    """
    if isinstance(resolver, str):
        from galcat.coords import get_resolver

        resolver = get_resolver(resolver)
    result = resolver.resolve(list(names))
    if len(result) != len(names):
        raise GalcatError(f"resolver returned {len(result)} rows for {len(names)} names")
    return result


def masked_values(column, dtype=float):
    """Column values as a plain array with NaN / -1 where masked (resolver tables are masked)."""
    fill = np.nan if dtype is float else -1
    return np.ma.filled(np.ma.asarray(column).astype(dtype), fill)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
