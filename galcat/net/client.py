"""Validated GETs from many threads: one :class:`~galcat.net.session.Session` per thread.

The cutout sources fetch rows from a thread pool; ``requests`` sessions are not meant to be shared
between threads, so :class:`HttpClient` keeps one per thread, all with the same configuration
(and, through the per-host registry, the same rate limit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from galcat.net.ratelimit import pause
from galcat.net.session import Download, HttpConfig, RequestFailed, Session, body_snippet


class HttpClient:
    """``get(url, validate)`` -> :class:`Download`, or :class:`RequestFailed` / ``NetworkError``."""

    def __init__(
        self, config: HttpConfig | None = None, sleep: Callable[[float], None] = pause, service: str = ""
    ):
        self.config = config or HttpConfig()
        self.service = service
        self._sleep = sleep
        self._local = threading.local()

    def session(self) -> Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = Session(self.config, self.service, self._sleep)
        return session

    def get(self, url: str, validate: Callable[[bytes], Any] | None = None) -> Download:
        """GET ``url`` until ``validate(body)`` accepts it; any answer but HTTP 200 is a failure."""
        download = self.session().fetch("GET", url, validate)
        response = download.response
        if response.status_code != 200:
            raise RequestFailed(
                f"HTTP {response.status_code} {response.reason} for {url}: {body_snippet(download.data)}",
                download.attempts,
            )
        return download
