"""The one HTTP layer: a ``requests.Session`` with urllib3's ``Retry`` mounted, plus what Retry lacks.

urllib3's :class:`~urllib3.util.Retry` does the standard part for every service (SkyServer,
hips2fits, Legacy Surveys, SIMBAD TAP, Sesame, VizieR): connect/read retries, exponential backoff
with jitter, retries on 408/425/429/5xx, ``Retry-After`` (capped here). :class:`Session` adds only
what Retry cannot know:

* a body that arrives with HTTP 200 but is not what was asked for (an HTML or JSON error page, a
  truncated JPEG, a connection closed mid-body) is retried; ``validate(body)`` decides,
* a deadline for the whole body, so a server that drips bytes cannot hold a worker for ever,
  and a size cap,
* a per-host rate limit shared by every session of the process (:mod:`galcat.net.ratelimit`),
* two failed name resolutions end the retries at once (an offline machine fails in seconds).

Body retries and status retries share one budget: the same ``Retry`` object, with its history,
is carried from one attempt to the next. Exhausted retries raise :class:`RequestFailed`; a host
that could not be connected to at all raises :class:`~galcat.errors.NetworkError`. A session
serves one thread at a time (as ``requests`` sessions do); :class:`~galcat.net.client.HttpClient`
keeps one per thread.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.retry import Retry

from galcat.errors import NetworkError
from galcat.net.ratelimit import host_limiter, now, pause

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# POST is retried too: galcat only POSTs read-only queries (SIMBAD TAP sync, VizieR votable)
RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
_CHUNK = 1 << 16


@dataclass
class HttpConfig:
    """Network behaviour; defaults suit a real service, tests shrink the waits."""

    timeout: float | tuple[float, float] = 30.0  # seconds per socket operation, or (connect, read)
    retries: int = 5  # retries after the first attempt (status, connection and body together)
    backoff: float = 1.0  # urllib3 backoff_factor: waits 0, 2*backoff, 4*backoff, ... (capped)
    max_backoff: float = 60.0
    jitter: float = 0.5  # up to jitter * backoff seconds added at random to each wait
    max_retry_after: float = 300.0  # cap on a server's Retry-After
    total_timeout: float = 120.0  # seconds for a whole body (a trickling server cannot hang a worker)
    max_bytes: int | None = 64 * 2**20  # a cutout is a few MB at most; None: no cap
    max_rate: float | None = None  # requests per second to one host, over the whole process
    user_agent: str = ""
    pool_size: int = 16


class InvalidBody(ValueError):
    """Raised by a validator: the body is not what was asked for (worth another attempt)."""


class RequestFailed(NetworkError):
    """One request failed for good: a permanent HTTP error, or every retry used up."""

    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


class _BodyError(Exception):
    """The body was cut short, too large or too slow."""


class GaveUp(MaxRetryError):
    """``MaxRetryError`` that remembers how many attempts were made and what they met."""

    def __init__(self, pool, url, reason, retry: GalcatRetry | None = None):
        super().__init__(pool, url, reason)
        self.attempts = retry.attempts if retry is not None else 1
        self.history = retry.history if retry is not None else ()


def _is_connect_failure(error: BaseException | None) -> bool:
    return isinstance(error, NewConnectionError | ConnectTimeoutError)


def failure_cause(error: BaseException | None) -> str:
    """What went wrong with a request that got no answer, in the user's words: ``name resolution
    failed`` (no DNS: offline, or a mistyped host), ``connection refused`` (nothing listens on the
    port), ``timed out``, ``connection reset``, or ``connection error``.

    urllib3 makes every failed connection (DNS included) a subclass of its timeout error, so the
    cause is read from the exception types and the OS error they wrap, most specific first.
    """
    chain, seen = [], error
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if seen in chain:
            break
    for e in chain:
        if isinstance(e, NameResolutionError | socket.gaierror):
            return "name resolution failed"
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError | urllib3.exceptions.ProtocolError):
            return "connection reset"
    for e in chain:
        if isinstance(e, NewConnectionError):
            return "cannot connect"
        if isinstance(e, urllib3.exceptions.TimeoutError | requests.Timeout | TimeoutError | socket.timeout):
            return "timed out"
    return "connection error"


class GalcatRetry(Retry):
    """``Retry`` with a capped ``Retry-After``, an injectable sleep and a fast stop without DNS."""

    def __init__(self, *args, max_retry_after: float = 300.0, sleep: Callable[[float], None] = pause, **kw):
        super().__init__(*args, **kw)
        self.max_retry_after = max_retry_after
        self.sleeper = sleep

    @property
    def attempts(self) -> int:
        """Requests made so far, counting the one this object governs."""
        return len(self.history) + 1

    def new(self, **kw: Any) -> GalcatRetry:
        kw.setdefault("max_retry_after", self.max_retry_after)
        kw.setdefault("sleep", self.sleeper)
        return super().new(**kw)

    def parse_retry_after(self, retry_after: str) -> float:
        return min(float(super().parse_retry_after(retry_after)), self.max_retry_after)

    def get_retry_after(self, response) -> float | None:
        """Seconds from ``Retry-After`` (delta or HTTP date), capped; ``None`` if absent or garbled."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            return self.parse_retry_after(value)
        except InvalidHeader:
            return None

    def sleep_for_retry(self, response) -> bool:
        seconds = self.get_retry_after(response)
        if seconds:
            self.sleeper(seconds)
            return True
        return False

    def sleep(self, response=None) -> None:
        if self.respect_retry_after_header and response is not None and self.sleep_for_retry(response):
            return
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, NameResolutionError) and any(
            isinstance(h.error, NameResolutionError) for h in self.history
        ):  # the name did not resolve twice: no network here, minutes of backoff would not help
            raise GaveUp(_pool, url, error, self)
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except GaveUp:
            raise
        except MaxRetryError as exc:
            raise GaveUp(_pool, url, exc.reason, self) from exc.reason


def make_retry(config: HttpConfig, sleep: Callable[[float], None] = pause) -> GalcatRetry:
    """The ``Retry`` policy of ``config``; ``raise_on_status=False`` hands back the last answer."""
    return GalcatRetry(
        total=config.retries,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=config.backoff,
        backoff_max=config.max_backoff,
        backoff_jitter=config.jitter * config.backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        max_retry_after=config.max_retry_after,
        sleep=sleep,
    )


@dataclass
class Download:
    response: requests.Response
    data: bytes
    value: Any  # what the validator returned (e.g. the decoded image)
    attempts: int


def body_snippet(body: bytes) -> str:
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


class Session(requests.Session):
    """``requests.Session`` with :class:`GalcatRetry`, a default timeout and a host rate limit.

    ``service`` names the service in error messages (``"SIMBAD (https://...)"``). Code that
    hands a session to astroquery or pyvo gets retries, timeouts and the rate limit for free;
    a call without ``stream=True`` also gets body retries, the body deadline and the size cap.
    """

    def __init__(self, config: HttpConfig | None = None, service: str = "", sleep=pause):
        from galcat import __version__

        super().__init__()
        self.config = config or HttpConfig()
        self.service = service
        self.retry = make_retry(self.config, sleep)
        self._adapter = HTTPAdapter(
            pool_connections=4, pool_maxsize=self.config.pool_size, max_retries=self.retry
        )
        self.mount("http://", self._adapter)
        self.mount("https://", self._adapter)
        self.headers["User-Agent"] = self.config.user_agent or f"galcat/{__version__} (python-requests)"

    def request(self, method, url, **kwargs):
        """``requests.Session.request`` through galcat's retries, timeout and host rate limit.

        A call without ``stream=True`` also reads and checks the body (:meth:`fetch`).
        """
        if kwargs.get("stream"):  # the caller reads the body itself (pyvo parses response.raw)
            response = self._send(method, url, self.retry, kwargs)
            self._check_status(method, url, response, response.raw.retries or self.retry)
            return response
        return self.fetch(method, url, **kwargs).response

    def fetch(
        self, method: str, url: str, validate: Callable[[bytes], Any] | None = None, **kwargs
    ) -> Download:
        """Send, read the whole body, and retry until ``validate(body)`` accepts a 200 answer.

        Answers other than 200 come back unvalidated (the caller decides); retryable statuses
        that outlast the retries raise :class:`RequestFailed`.
        """
        kwargs["stream"] = True
        retry = self.retry
        while True:
            response = self._send(method, url, retry, kwargs)
            retry = response.raw.retries or retry
            try:
                body = self._read_body(response)
                self._check_status(method, url, response, retry, body)
                value = validate(body) if validate is not None and response.status_code == 200 else body
            except (_BodyError, InvalidBody) as problem:
                reason = (
                    f"invalid payload with HTTP 200: {problem}"
                    if isinstance(problem, InvalidBody)
                    else problem
                )
                retry = self._again(method, url, retry, problem, reason)
                continue
            response._content, response._content_consumed = body, True  # as if requests had read it
            return Download(response, body, value, retry.attempts)

    # -- pieces ---------------------------------------------------------------------------
    def _label(self, method: str, url: str) -> str:
        return f"{self.service + ': ' if self.service else ''}{method} {url}"

    def _send(self, method: str, url: str, retry: GalcatRetry, kwargs: dict) -> requests.Response:
        if kwargs.get("timeout") is None:  # pyvo and astroquery pass none: a stalled server would hang
            kwargs["timeout"] = self.config.timeout
        limiter = host_limiter(url, self.config.max_rate)
        if limiter is not None:
            limiter.wait()
        self._adapter.max_retries = retry  # this call spends what is left of the budget
        try:
            return super().request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise self._transport_error(method, url, exc) from None

    def _transport_error(self, method: str, url: str, exc: requests.RequestException) -> NetworkError:
        gave_up = next((a for a in exc.args if isinstance(a, GaveUp)), None)
        reason = gave_up.reason if gave_up is not None else exc
        attempts = gave_up.attempts if gave_up is not None else 1
        errors = [h.error for h in gave_up.history] if gave_up is not None else []
        kind = failure_cause(reason) if gave_up is not None else failure_cause(exc)
        if all(_is_connect_failure(e) for e in [*errors, reason]):  # an answer has error None
            host = urlsplit(url).netloc
            prefix = f"{self.service}: " if self.service else ""
            return NetworkError(
                f"{prefix}cannot reach {host} after {attempts} attempts ({kind}: {reason}); "
                "check the network connection or the service URL"
            )
        return RequestFailed(
            f"{self._label(method, url)} failed after {attempts} attempts; last error: {kind}: {reason}",
            attempts,
        )

    def _read_body(self, response: requests.Response) -> bytes:
        """The whole body under the total deadline and the size cap (``read1``: no long blocking)."""
        cfg = self.config
        start = now()
        chunks, size = [], 0
        try:
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                size += len(chunk)
                if cfg.max_bytes is not None and size > cfg.max_bytes:
                    raise _BodyError(f"body larger than {cfg.max_bytes} bytes")
                if now() - start > cfg.total_timeout:
                    raise _BodyError(f"body took longer than {cfg.total_timeout:g} s")
                chunks.append(chunk)
        except _BodyError:
            response.close()
            raise
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            response.close()
            raise _BodyError(f"body cut short: {exc}") from None
        return b"".join(chunks)

    def _check_status(self, method, url, response, retry: GalcatRetry, body: bytes | None = None) -> None:
        """A retryable status that Retry handed back means the retries are used up."""
        if response.status_code not in RETRY_STATUSES:
            return
        if body is None:
            body = next(response.iter_content(4096), b"")
        raise RequestFailed(
            f"{self._label(method, url)} failed after {retry.attempts} attempts: "
            f"HTTP {response.status_code} {response.reason}: {body_snippet(body)}",
            retry.attempts,
        )

    def _again(self, method, url, retry: GalcatRetry, problem: Exception, reason) -> GalcatRetry:
        """Count a bad body against the budget and wait the backoff; raise when nothing is left."""
        try:
            retry = retry.increment(method, url, error=problem)
        except GaveUp as exc:
            raise RequestFailed(
                f"{self._label(method, url)} failed after {exc.attempts} attempts; last error: {reason}",
                exc.attempts,
            ) from None
        retry.sleep()
        return retry
