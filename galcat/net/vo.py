"""astroquery and pyvo clients on a galcat :class:`~galcat.net.session.Session`.

astroquery's query classes and pyvo's services keep their ``requests`` session in ``_session``;
giving them ours brings retries, timeouts (they pass none) and the host rate limit. Errors those
libraries raise for a service's bad answer become a :class:`~galcat.errors.NetworkError` naming
the service, so the CLI prints one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from galcat.errors import NetworkError
from galcat.net.session import Session


def on_session(client, session: Session):
    """``client`` (an astroquery query object) sending through ``session``; returns ``client``."""
    client._session = session
    return client


def _client_errors() -> tuple[type[BaseException], ...]:
    from astroquery.exceptions import RemoteServiceError, TableParseError
    from pyvo.dal import DALAccessError

    return (requests.RequestException, DALAccessError, RemoteServiceError, TableParseError)


@contextmanager
def service_errors(service: str) -> Iterator[None]:
    """Turn astroquery / pyvo / requests errors inside the block into one-line NetworkErrors."""
    try:
        yield
    except NetworkError:
        raise
    except _client_errors() as exc:
        text = str(exc).strip()
        detail = text.splitlines()[0] if text else type(exc).__name__
        raise NetworkError(f"{service} request failed: {detail}") from exc
