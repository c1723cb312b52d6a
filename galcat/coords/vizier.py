"""Whole-catalogue downloads from VizieR (e.g. VII/51, the RSA with B1950 positions).

astroquery returns an *empty* TableList when VizieR answers with an error VOTable ("The database
is not currently reachable"), which would look like an empty catalogue; here that becomes a
:class:`NetworkError` carrying VizieR's own message. The query goes through
:class:`galcat.net.Session` (retries, timeouts, at most 5 requests/s per VizieR host); a
catalogue that parsed is kept in ``$GALCAT_CACHE_DIR/vizier``, so a second read downloads nothing.
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET

from astropy.io import votable
from astropy.table import Table

from galcat.errors import NetworkError
from galcat.net import DiskCache, HttpConfig, Session, open_cache
from galcat.net.vo import on_session, service_errors

VIZIER_RATE = 5.0  # requests per second to one VizieR host


def _vizier_client(server: str, row_limit: int, session: Session):
    """An astroquery ``VizierClass``; ``server`` may carry a scheme (``http://127.0.0.1:8000``)."""
    from astroquery.vizier import VizierClass

    class _Vizier(VizierClass):
        def _server_to_url(self, return_type="votable"):
            if "://" in self.VIZIER_SERVER:
                return self.VIZIER_SERVER.rstrip("/") + "/viz-bin/" + return_type
            return super()._server_to_url(return_type=return_type)

    client = _Vizier(
        columns=["**"], row_limit=row_limit, timeout=session.config.timeout, vizier_server=server
    )
    return on_session(client, session)


def vizier_errors(content: bytes) -> list[str]:
    """The error messages of a VizieR VOTable (``INFO name="Error"`` / ``QUERY_STATUS=ERROR``)."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        return [f"response is not XML ({exc})"]
    messages = []
    for element in root.iter():
        if not element.tag.endswith("INFO"):
            continue
        name, value = element.get("name", ""), (element.get("value") or "").strip()
        if name == "Error" and value:
            messages.append(value)
        elif name == "QUERY_STATUS" and value == "ERROR" and not messages:
            messages.append((element.text or "query failed").strip().splitlines()[0])
    return messages


def fetch_vizier_catalogue(
    catalog: str,
    *,
    server: str | None = None,
    row_limit: int = -1,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.5,
    cache: DiskCache | str | os.PathLike | bool | None = True,
) -> list[Table]:
    """All tables of VizieR ``catalog`` (e.g. ``'VII/51'``) with every column, as astropy Tables.

    ``cache``: True keeps the answer in ``$GALCAT_CACHE_DIR/vizier``; a path or a DiskCache
    elsewhere; False asks VizieR every time.
    """
    from astroquery.vizier import conf

    server = server or os.environ.get("GALCAT_VIZIER_SERVER") or conf.server
    service = f"VizieR ({server}) catalogue {catalog}"
    store = open_cache(cache, "vizier")
    key = f"vizier://{server}/{catalog}?row_limit={row_limit}"
    content = store.get(key) if store is not None else None
    if content is None:
        http = HttpConfig(
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_rate=VIZIER_RATE,
            max_bytes=None,
            total_timeout=600,
        )
        client = _vizier_client(server, row_limit, Session(http, service=service))
        with service_errors(service):
            response = client.query_constraints_async(catalog=catalog, cache=False)
            response.raise_for_status()
        content = response.content
    tables = _parse(content, service)
    if store is not None:
        store.put(key, content)
    return tables


def _parse(content: bytes, service: str) -> list[Table]:
    errors = vizier_errors(content)
    if errors:
        raise NetworkError(f"{service} answered with an error: {errors[0]}")
    try:
        parsed = votable.parse(io.BytesIO(content), verify="ignore")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad answer from the service
        raise NetworkError(f"{service} returned an unreadable VOTable: {exc}") from None
    tables = [t.to_table(use_names_over_ids=True) for t in parsed.iter_tables()]
    if not tables:
        raise NetworkError(f"{service} returned no table (unknown catalogue?)")
    return tables
