"""HTTP GET with per-request timeouts, retries (exponential backoff + jitter), ``Retry-After``
and payload validation.

astroquery has no retry layer (astroquery#1832 closed unmerged) and SkyServer documents no rate
limits, so every cutout request goes through :class:`HttpClient`: transient answers (timeouts,
5xx, 429, dropped connections, and 200 responses whose body is not a valid image) are retried;
permanent ones (404, 400) fail at once. A host that cannot be reached at all raises
:class:`galcat.errors.NetworkError` after the retries, so a build without network stops with one
clear message instead of thousands of per-row failures.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from galcat.errors import NetworkError
from galcat.images.validate import InvalidPayload

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class HttpConfig:
    """Network behaviour; defaults suit a real service, tests shrink the waits."""

    timeout: float = 30.0  # seconds, per request (connect and read)
    retries: int = 5  # retries after the first attempt
    backoff: float = 1.0  # first retry waits ~backoff s, then doubles
    max_backoff: float = 60.0
    jitter: float = 0.5  # each wait is scaled by uniform(1 - jitter, 1 + jitter)
    max_retry_after: float = 300.0  # cap on a server's Retry-After
    total_timeout: float = 120.0  # seconds for a whole body (a trickling server cannot hang a worker)
    max_bytes: int = 64 * 2**20  # a cutout is a few MB at most; anything bigger is not a cutout
    max_rate: float | None = None  # requests per second over all threads (None: only `workers` bound)
    user_agent: str = ""
    pool_size: int = 16


class _BadBody(Exception):
    """The body arrived too slowly or was too large."""


class FetchFailed(Exception):
    """One URL could not be fetched (permanent error or retries exhausted)."""

    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


@dataclass
class Download:
    data: bytes
    value: Any  # what the validator returned (e.g. the decoded image)
    attempts: int


def _caused_by(exc: BaseException, types: tuple[type, ...]) -> bool:
    """True when ``exc`` or anything in its cause/context/reason chain is one of ``types``."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        err = stack.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, types):
            return True
        stack.extend([getattr(err, "reason", None), err.__cause__, err.__context__, *err.args])
    return False


def _unreachable(exc: BaseException) -> bool:
    """True when the host could not be connected to at all (DNS, refused, connect timeout)."""
    connect_failures = (
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.ConnectTimeoutError,
        requests.ConnectTimeout,
    )
    return _caused_by(exc, connect_failures)


def _name_unresolved(exc: BaseException) -> bool:
    """True when the host name does not resolve: no network here, so retrying for minutes is pointless."""
    return _caused_by(exc, (urllib3.exceptions.NameResolutionError,))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_snippet(body: bytes) -> str:
    """A short human-readable reason from an error body (hips2fits sends JSON ``title``)."""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            text = " - ".join(str(data[k]) for k in ("title", "description") if data.get(k))
            if text:
                return text[:200]
    except ValueError:
        pass
    return body[:120].decode("utf-8", "replace").strip().replace("\n", " ")


class HttpClient:
    """Thread-safe GET with retries; one ``requests.Session`` per thread (connection reuse)."""

    def __init__(
        self, config: HttpConfig | None = None, sleep: Callable[[float], None] = time.sleep, seed=None
    ):
        self.config = config or HttpConfig()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.requests_made = 0
        self._next_slot = 0.0

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            from galcat import __version__

            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(
                pool_connections=4, pool_maxsize=self.config.pool_size, max_retries=0
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = (
                self.config.user_agent or f"galcat/{__version__} (python-requests)"
            )
            self._local.session = session
        return session

    def backoff_delay(self, retry: int) -> float:
        """Wait before retry number ``retry`` (0-based): exponential, capped, jittered."""
        cfg = self.config
        base = min(cfg.max_backoff, cfg.backoff * (2**retry))
        with self._lock:
            scale = self._rng.uniform(1 - cfg.jitter, 1 + cfg.jitter)
        return max(0.0, base * scale)

    def _throttle(self) -> None:
        """Space requests ``1 / max_rate`` s apart over all threads (polite to undocumented limits)."""
        if not self.config.max_rate:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.config.max_rate
        if slot > now:
            self._sleep(slot - now)

    def _download(self, url: str) -> tuple[requests.Response, bytes]:
        """Stream the body under a total deadline and a size cap."""
        cfg = self.config
        start = time.monotonic()
        with self._session().get(url, timeout=cfg.timeout, stream=True) as resp:
            chunks, size = [], 0
            for chunk in resp.iter_content(1 << 16):  # a short body raises ChunkedEncodingError
                size += len(chunk)
                if size > cfg.max_bytes:
                    raise _BadBody(f"body larger than {cfg.max_bytes} bytes")
                if time.monotonic() - start > cfg.total_timeout:
                    raise _BadBody(f"body took longer than {cfg.total_timeout:g} s")
                chunks.append(chunk)
            return resp, b"".join(chunks)

    def get(self, url: str, validate: Callable[[bytes], Any] = lambda b: b) -> Download:
        """GET ``url`` until ``validate(body)`` accepts it; raise FetchFailed or NetworkError."""
        cfg = self.config
        attempts_allowed = cfg.retries + 1
        last_error = ""
        all_unreachable = True
        for attempt in range(attempts_allowed):
            wait: float | None = None
            self._throttle()
            with self._lock:
                self.requests_made += 1
            try:
                resp, body = self._download(url)
            except requests.RequestException as exc:
                all_unreachable = all_unreachable and _unreachable(exc)
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection error"
                last_error = f"{kind}: {exc}"
                if attempt >= 1 and _name_unresolved(exc):  # DNS failed twice: offline, stop now
                    attempts_allowed = attempt + 1
                    break
            except _BadBody as exc:
                all_unreachable = False
                last_error = str(exc)
            else:
                all_unreachable = False
                if resp.status_code == 200:
                    try:
                        return Download(body, validate(body), attempt + 1)
                    except InvalidPayload as exc:
                        last_error = f"invalid payload with HTTP 200: {exc}"
                elif resp.status_code in RETRY_STATUSES:
                    last_error = f"HTTP {resp.status_code} {resp.reason}: {_body_snippet(body)}"
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    if retry_after is not None:
                        wait = min(retry_after, cfg.max_retry_after)
                else:
                    raise FetchFailed(
                        f"HTTP {resp.status_code} {resp.reason} for {url}: {_body_snippet(body)}", attempt + 1
                    )
            if attempt + 1 < attempts_allowed:
                self._sleep(wait if wait is not None else self.backoff_delay(attempt))
        if all_unreachable:
            host = urlsplit(url).netloc
            raise NetworkError(
                f"cannot reach {host} after {attempts_allowed} attempts ({last_error}); "
                "check the network connection or the service URL"
            )
        raise FetchFailed(
            f"GET {url} failed after {attempts_allowed} attempts; last error: {last_error}", attempts_allowed
        )
