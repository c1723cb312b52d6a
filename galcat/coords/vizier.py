"""Whole-catalogue downloads from VizieR (e.g. VII/51, the RSA with B1950 positions).

astroquery returns an *empty* TableList when VizieR answers with an error VOTable ("The database
is not currently reachable"), which would look like an empty catalogue; here that becomes a
:class:`NetworkError` carrying VizieR's own message.
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET

from astropy.io import votable
from astropy.table import Table

from galcat.coords.http import RateLimiter, with_retries
from galcat.errors import NetworkError


def _vizier_client(server: str, timeout: float, row_limit: int):
    """An astroquery ``VizierClass``; ``server`` may carry a scheme (``http://127.0.0.1:8000``)."""
    from astroquery.vizier import VizierClass

    class _Vizier(VizierClass):
        def _server_to_url(self, return_type="votable"):
            if "://" in self.VIZIER_SERVER:
                return self.VIZIER_SERVER.rstrip("/") + "/viz-bin/" + return_type
            return super()._server_to_url(return_type=return_type)

    return _Vizier(columns=["**"], row_limit=row_limit, timeout=timeout, vizier_server=server)


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
) -> list[Table]:
    """All tables of VizieR ``catalog`` (e.g. ``'VII/51'``) with every column, as astropy Tables."""
    from astroquery.vizier import conf

    server = server or os.environ.get("GALCAT_VIZIER_SERVER") or conf.server
    client = _vizier_client(server, timeout, row_limit)
    service = f"VizieR ({server}) catalogue {catalog}"
    response = with_retries(
        lambda: _checked(client.query_constraints_async(catalog=catalog, cache=False)),
        service=service,
        retries=retries,
        backoff=backoff,
        limiter=RateLimiter(5.0),
    )
    errors = vizier_errors(response.content)
    if errors:
        raise NetworkError(f"{service} answered with an error: {errors[0]}")
    try:
        parsed = votable.parse(io.BytesIO(response.content), verify="ignore")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad answer from the service
        raise NetworkError(f"{service} returned an unreadable VOTable: {exc}") from None
    tables = [t.to_table(use_names_over_ids=True) for t in parsed.iter_tables()]
    if not tables:
        raise NetworkError(f"{service} returned no table (unknown catalogue?)")
    return tables


def _checked(response):
    response.raise_for_status()
    return response
