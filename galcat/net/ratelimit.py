"""A per-host rate limiter shared by every session of the process.

Services publish request budgets per host (SIMBAD asks for at most ~6 queries per second), so the
limit belongs to the host, not to one client object: two resolvers, or two calls of
``fetch_vizier_catalogue``, share one :class:`RateLimiter` from :data:`LIMITERS`. Each caller
reserves the next free slot under a lock and sleeps outside it, so threads queue without holding
each other up. The clock and the sleep are injectable, so tests check spacing without sleeping;
:func:`now` and :func:`pause` are that clock for the rest of the network layer (retry backoff,
body deadlines).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit


class RateLimiter:
    """At most ``per_second`` request starts per second, over all threads that share it."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second <= 0:
            raise ValueError(f"rate must be positive, got {per_second}")
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def tighten(self, per_second: float) -> None:
        """Keep the stricter of the current rate and ``per_second``."""
        with self._lock:
            self.interval = max(self.interval, 1.0 / per_second)

    def wait(self) -> float:
        """Sleep until this caller's slot; return the slot time (on the limiter's clock)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        return slot


class LimiterRegistry:
    """One :class:`RateLimiter` per host; a later, stricter rate tightens the existing one."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._clock, self._sleep = clock, sleep
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str, per_second: float | None) -> RateLimiter | None:
        if not per_second:
            return None
        host = host.lower()
        with self._lock:
            limiter = self._limiters.get(host)
            if limiter is None:
                limiter = self._limiters[host] = RateLimiter(per_second, self._clock, self._sleep)
                return limiter
        limiter.tighten(per_second)
        return limiter


LIMITERS = LimiterRegistry()


def now() -> float:
    """The network layer's clock (:data:`LIMITERS`'): body deadlines and rate limits read one clock."""
    return LIMITERS._clock()


def pause(seconds: float) -> None:
    """The network layer's sleep (:data:`LIMITERS`'): retry backoff and rate limits wait on one clock.

    Tests swap :data:`LIMITERS` for one on a fake clock, so no test waits for real backoff.
    """
    LIMITERS._sleep(seconds)


def host_limiter(url: str, per_second: float | None) -> RateLimiter | None:
    """The process-wide limiter of ``url``'s host (``None`` when no rate is asked for)."""
    return LIMITERS.for_host(urlsplit(url).netloc, per_second)
