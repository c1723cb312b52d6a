"""Per-host rate limits on an injected clock: spacing, sharing across calls and threads."""

from __future__ import annotations

import threading

import pytest
from helpers.clock import FakeClock

from galcat.net import LimiterRegistry, RateLimiter, host_limiter


def test_limiter_spaces_calls_and_lets_time_that_passed_count():
    clock = FakeClock()
    limiter = RateLimiter(20.0, clock=clock.now, sleep=clock.sleep)
    slots = [limiter.wait() for _ in range(5)]
    assert slots == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])
    assert clock.sleeps == pytest.approx([0.05, 0.10, 0.15, 0.20])
    clock.advance(10.0)  # long idle: the next call goes at once, no burst credit either
    assert limiter.wait() == pytest.approx(10.0) and limiter.wait() == pytest.approx(10.05)
    assert clock.sleeps[-1] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


def test_threads_sharing_a_limiter_never_get_the_same_slot():
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock.now, sleep=clock.sleep)
    slots, lock = [], threading.Lock()

    def worker():
        for _ in range(5):
            slot = limiter.wait()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(slots) == pytest.approx([i / 10 for i in range(20)])


def test_registry_shares_one_limiter_per_host_and_keeps_the_strictest_rate(monkeypatch):
    clock = FakeClock()
    registry = LimiterRegistry(clock=clock.now, sleep=clock.sleep)
    simbad = registry.for_host("simbad.cds.unistra.fr", 5.0)
    assert registry.for_host("SIMBAD.cds.unistra.fr", 5.0) is simbad
    assert registry.for_host("vizier.cds.unistra.fr", 5.0) is not simbad
    assert registry.for_host("simbad.cds.unistra.fr", None) is None  # no rate asked: no limit
    registry.for_host("simbad.cds.unistra.fr", 2.0)
    assert simbad.interval == pytest.approx(0.5)
    registry.for_host("simbad.cds.unistra.fr", 100.0)  # a laxer wish does not loosen it
    assert simbad.interval == pytest.approx(0.5)

    from galcat.net import ratelimit

    monkeypatch.setattr(ratelimit, "LIMITERS", registry)
    first = host_limiter("https://simbad.cds.unistra.fr/simbad/sim-tap/sync", 5.0)
    assert first is simbad  # the module-level registry is what every session asks
