"""HTTP hygiene for the remote resolvers: timeouts on every request, a rate limit, retries.

pyvo and astroquery pass no timeout to ``requests``, so a stalled server would hang forever;
:class:`TimeoutSession` adds one. SIMBAD asks for at most ~6 queries/s, :class:`RateLimiter`
keeps us at 5. :func:`with_retries` retries transient failures with exponential backoff and
then raises :class:`NetworkError` with the service's own message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from galcat.errors import NetworkError

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class TimeoutSession(requests.Session):
    """A ``requests.Session`` whose requests time out unless the caller says otherwise."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self.default_timeout = timeout
        self.request_count = 0

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.default_timeout
        self.request_count += 1
        return super().request(method, url, **kwargs)


class RateLimiter:
    """At most ``per_second`` calls per second (sleeps before a call that would be too early)."""

    def __init__(self, per_second: float = 5.0):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def is_transient(exc: BaseException) -> bool:
    """Connection problems, timeouts, HTTP 429 and 5xx are worth retrying; anything else is not."""
    if isinstance(exc, requests.ConnectionError | requests.Timeout | TimeoutError):
        return True
    code = getattr(exc, "code", None)
    response = getattr(exc, "response", None)
    if code is None and response is not None:
        code = getattr(response, "status_code", None)
    if code is not None:
        return int(code) == 429 or int(code) >= 500
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the service or the connection failed" (not a bug of ours)."""
    import urllib.error

    from astropy.coordinates.name_resolve import NameResolveError
    from pyvo.dal import DALAccessError

    errors: list[type[BaseException]] = [
        requests.RequestException,
        urllib.error.URLError,
        TimeoutError,
        ConnectionError,
        DALAccessError,
        NameResolveError,
    ]
    try:
        from astroquery.exceptions import RemoteServiceError, TableParseError

        errors += [RemoteServiceError, TableParseError]
    except ImportError:  # pragma: no cover - astroquery is a dependency
        pass
    return tuple(errors)


def with_retries(
    call: Callable[[], object],
    *,
    service: str,
    retries: int = 3,
    backoff: float = 0.5,
    limiter: RateLimiter | None = None,
    transient: Callable[[BaseException], bool] = is_transient,
):
    """Run ``call()``; retry transient errors ``retries`` times (backoff, 2x backoff, ...)."""
    attempt = 0
    while True:
        if limiter is not None:
            limiter.wait()
        try:
            return call()
        except NetworkError:
            raise
        except _network_errors() as exc:
            if not transient(exc) or attempt >= retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise NetworkError(f"{service} request failed{tries}: {detail}") from exc
            time.sleep(backoff * (2**attempt))
            attempt += 1
