"""A clock that stands still unless told otherwise, for rate limits checked without sleeping."""

from __future__ import annotations

import threading


class FakeClock:
    """``now()`` reads, ``sleep(s)`` records ``s`` (time does not pass); ``advance(s)`` moves on."""

    def __init__(self, start: float = 0.0):
        self.t = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
