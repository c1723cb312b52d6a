"""The session layer against a local fault-injecting server serving real JPEG bytes."""

from __future__ import annotations

import pytest
from helpers.faulty_server import FaultyImageServer, position_key

from galcat.errors import NetworkError
from galcat.images import decode_image
from galcat.net import HttpClient, HttpConfig, InvalidBody, RequestFailed, Session

FAST = HttpConfig(timeout=2.0, retries=3, backoff=0.001, max_backoff=0.01, max_retry_after=0.01)
KEY = position_key(150.0, 2.0)


@pytest.fixture(scope="module")
def jpeg(shared_data):
    return sorted((shared_data / "gz2" / "kaggle" / "images").glob("*.jpg"))[0].read_bytes()


def url_of(server) -> str:
    return f"{server.url}/dr17/SkyServerWS/ImgCutout/getjpeg?ra={KEY[0]}&dec={KEY[1]}"


def test_status_and_body_retries_share_one_budget(jpeg):
    faults = {KEY: ["503", "html", "500", "truncated"]}
    with FaultyImageServer({KEY: jpeg}, faults=faults) as server:
        with pytest.raises(RequestFailed, match="after 4 attempts; last error: invalid payload") as err:
            HttpClient(FAST).get(url_of(server), decode_image)
        assert err.value.attempts == 4 and len(server.log) == 4  # retries=3: four requests in all
        assert "does not decode" in str(err.value)
        got = HttpClient(FAST).get(url_of(server), decode_image)  # the plan is used up: served fine
        assert got.attempts == 1 and got.data == jpeg and got.value.shape == (424, 424, 3)


def test_error_pages_with_http_200_are_retried_then_named(jpeg):
    with FaultyImageServer({KEY: jpeg}, faults={KEY: ["json", "html"]}) as server:
        got = HttpClient(FAST).get(url_of(server), decode_image)
        assert got.attempts == 3 and got.data == jpeg
    with FaultyImageServer({KEY: jpeg}, faults={KEY: ["html"] * 4}) as server:
        with pytest.raises(RequestFailed, match="HTML page"):
            HttpClient(FAST).get(url_of(server), decode_image)


def test_a_dripping_body_hits_the_deadline_long_before_it_ends(jpeg, monkeypatch):
    # 8 pieces 1 s apart: the whole body would take 8 s; the deadline is 0.5 s. The network
    # layer's clock moves 0.3 s at each reading, so the deadline passes at the second piece.
    from helpers.clock import FakeClock

    from galcat.net import LimiterRegistry, ratelimit

    clock, readings = FakeClock(), []

    def ticking() -> float:
        clock.advance(0.3)
        readings.append(clock.now())
        return readings[-1]

    monkeypatch.setattr(ratelimit, "LIMITERS", LimiterRegistry(clock=ticking, sleep=clock.sleep))
    with FaultyImageServer({KEY: jpeg}, faults={KEY: ["trickle"]}, slow_seconds=8.0) as server:
        cfg = HttpConfig(timeout=5.0, total_timeout=0.5, retries=0)
        with pytest.raises(RequestFailed, match=r"body took longer than 0\.5 s"):
            HttpClient(cfg).get(url_of(server), decode_image)
    assert len(readings) <= 3  # the start and at most two pieces of eight were read


def test_plain_session_reads_validates_and_limits_body_size(jpeg):
    with FaultyImageServer({KEY: jpeg}, faults={KEY: ["short"]}) as server:
        session = Session(FAST, service="test")
        response = session.get(url_of(server))  # a body cut short is retried like a 503
        assert response.status_code == 200 and response.content == jpeg
        assert b"".join(response.iter_content(1000)) == jpeg  # read once, readable as usual
        small = Session(HttpConfig(max_bytes=1000, retries=0), service="test")
        with pytest.raises(RequestFailed, match="test: GET .* larger than 1000 bytes"):
            small.get(url_of(server))
        missing = session.get(f"{server.url}/dr17/SkyServerWS/ImgCutout/getjpeg?ra=1&dec=1")
        assert missing.status_code == 404  # not retried: the caller decides what a 404 means
        assert len([r for r in server.log if r.fault == "404"]) == 1


def test_validator_rejections_are_the_only_ones_retried(jpeg):
    calls = []

    def picky(body: bytes):
        calls.append(len(body))
        if len(calls) < 3:
            raise InvalidBody("not yet")
        return "accepted"

    with FaultyImageServer({KEY: jpeg}) as server:
        got = Session(FAST).fetch("GET", url_of(server), picky)
        assert got.value == "accepted" and got.attempts == 3 and calls == [len(jpeg)] * 3

        def broken(body: bytes):
            raise KeyError("a bug, not a bad answer")

        with pytest.raises(KeyError):
            Session(FAST).fetch("GET", url_of(server), broken)
        assert len(server.log) == 4


def test_refused_connection_is_a_network_error_without_waiting_out_the_backoff():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = []
    session = Session(HttpConfig(retries=2, backoff=100.0, max_backoff=1000.0, jitter=0), sleep=sleeps.append)
    with pytest.raises(NetworkError, match=rf"cannot reach 127\.0\.0\.1:{port} after 3 attempts"):
        session.get(f"http://127.0.0.1:{port}/x")
    assert sleeps == [200.0]  # urllib3's schedule (0, 2b): recorded, not slept
