"""Replay helpers for pytest-httpserver: serve recorded service responses (real bytes).

``serve(httpserver, uri, recording, method=...)`` registers a recorded file from
``shared_data/services``; ``flaky(...)`` answers with HTTP errors first, to exercise retries.
"""

from __future__ import annotations

import time
from pathlib import Path

from werkzeug import Response

XML = "text/xml;content=x-votable"


def recording(shared_data: Path, relative: str) -> bytes:
    """Bytes of a recorded response under ``shared_data/services``."""
    return (shared_data / "services" / relative).read_bytes()


def serve(httpserver, uri: str, body: bytes, *, method: str | None = None, content_type: str = XML) -> None:
    """Answer every request to ``uri`` with ``body`` (any number of times)."""
    kwargs = {"method": method} if method else {}
    httpserver.expect_request(uri, **kwargs).respond_with_data(body, content_type=content_type)


def flaky(httpserver, uri: str, body: bytes, *, failures: int, status: int = 503, content_type: str = XML):
    """Answer ``failures`` times with HTTP ``status``, then with ``body``; returns the call counter."""
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] <= failures:
            return Response("service unavailable", status=status)
        return Response(body, content_type=content_type)

    httpserver.expect_request(uri).respond_with_handler(handler)
    return calls


def slow(httpserver, uri: str, delay: float) -> None:
    """Answer ``uri`` only after ``delay`` seconds (to test client timeouts)."""

    def handler(request):
        time.sleep(delay)
        return Response("late", status=200)

    httpserver.expect_request(uri).respond_with_handler(handler)


def request_count(httpserver, path_prefix: str = "") -> int:
    """How many requests the server received whose path starts with ``path_prefix``."""
    return sum(1 for request, _ in httpserver.log if request.path.startswith(path_prefix))
