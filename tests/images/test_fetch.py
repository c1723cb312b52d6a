"""fetch_many against a local fault-injecting SkyServer that serves real SDSS JPEG bytes."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table
from helpers.faulty_server import FAULT_KINDS, FaultyImageServer, position_key
from PIL import Image
from rich.console import Console

from galcat.errors import GalcatError, NetworkError
from galcat.images import (
    FetchResult,
    HttpClient,
    HttpConfig,
    SkyServerSource,
    fetch_all,
    fetch_many,
    write_fetch_report,
)
from galcat.net import make_retry

N_ROWS = 40
BLANK_ROWS = (7, 23, 31)  # out-of-footprint positions: the server answers a grey JPEG
FAST = HttpConfig(
    timeout=1.0, total_timeout=2.0, retries=5, backoff=0.001, max_backoff=0.01, max_retry_after=0.01
)


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def sky(shared_data):
    """A 40-row catalogue whose positions map to real 424x424 Galaxy Zoo JPEGs (3 are blank)."""
    files = sorted((shared_data / "gz2" / "kaggle" / "images").glob("*.jpg"))[:N_ROWS]
    table = Table()
    table["objid"] = [f.stem for f in files]
    table["ra"] = 150.0 + 0.01 * np.arange(N_ROWS)
    table["dec"] = 2.0 + 0.01 * np.arange(N_ROWS)
    keys = [position_key(r, d) for r, d in zip(table["ra"], table["dec"], strict=True)]
    blank = {keys[i] for i in BLANK_ROWS}
    images = {k: f.read_bytes() for k, f in zip(keys, files, strict=True) if k not in blank}
    return table, keys, images, blank


def fault_plan(keys):
    """One position per fault kind, plus one with two faults in a row: 12 of 52 requests faulty."""
    faulty = [k for i, k in enumerate(keys) if i not in BLANK_ROWS][1::3]
    plan = {faulty[i]: [kind] for i, kind in enumerate(FAULT_KINDS)}
    plan[faulty[len(FAULT_KINDS)]] = ["503", "short"]
    return plan


def source_at(server, cache, http=FAST):
    return SkyServerSource(base_url=server.url, release=17, scale=0.396, pixels=424, cache=cache, http=http)


def test_faulty_service_loses_nothing_and_second_pass_downloads_nothing(tmp_path, sky):
    table, keys, images, blank = sky
    plan = fault_plan(keys)
    with FaultyImageServer(images, faults=plan, blank=blank, slow_seconds=2.5) as server:
        run = fetch_many(source_at(server, tmp_path / "cache"), table, workers=8)
        results = list(run)
        n_requests = len(server.log)
        faulty_requests = sum(1 for r in server.log if r.fault)
        # the run lost nothing and duplicated nothing
        assert sorted(r.row_index for r in results) == list(range(N_ROWS))
        for res in results:
            key = keys[res.row_index]
            served = server.served_bytes(key)
            assert res.objid == table["objid"][res.row_index]
            assert res.sha256 == hashlib.sha256(served).hexdigest()
            assert res.origin.startswith(server.url + "/dr17/SkyServerWS/ImgCutout/getjpeg?ra=")
            if key in blank:
                assert res.status == "blank" and res.image is None and "blank" in res.error
            else:
                assert res.status == "ok", res.error
                assert np.array_equal(res.image, decode(served))
            # every fault cost exactly one retry, and nothing was fetched again after success
            assert len(server.requests_for(key)) == len(plan.get(key, [])) + 1
        assert faulty_requests == len(FAULT_KINDS) + 2 and 0.18 < faulty_requests / n_requests < 0.25
        s = run.summary
        assert (s.total, s.downloaded, s.blank, s.failed, s.cached) == (N_ROWS, N_ROWS - 3, 3, 0, 0)
        assert s.requests == n_requests
        assert sorted(f["row"] for f in s.failures) == list(BLANK_ROWS)

        # second build: a fresh source on the same cache makes zero requests
        again, summary2 = fetch_all(source_at(server, tmp_path / "cache"), table, workers=4)
        assert len(server.log) == n_requests
        assert [r.row_index for r in again] == list(range(N_ROWS))
        assert (summary2.cached, summary2.blank, summary2.downloaded, summary2.requests) == (
            N_ROWS - 3,
            3,
            0,
            0,
        )
        for first, second in zip(sorted(results, key=lambda r: r.row_index), again, strict=True):
            assert second.sha256 == first.sha256
            if first.image is not None:
                assert np.array_equal(second.image, first.image)

    paths = write_fetch_report(s, tmp_path / "stores" / "sky.h5")
    assert [p.name for p in paths] == ["sky.fetch_summary.json", "sky.failures.ecsv"]
    failures = Table.read(paths[1], format="ascii.ecsv")
    assert list(failures["row"]) == list(BLANK_ROWS) and set(failures["status"]) == {"blank"}
    assert '"blank": 3' in paths[0].read_text()


def test_permanent_errors_fail_at_once_and_exhausted_retries_are_not_cached(tmp_path, sky):
    table, keys, images, blank = sky
    rows = table[:3]
    faults = {keys[1]: ["500"] * 6}
    with FaultyImageServer(images, faults=faults, missing={keys[2]}) as server:
        results, summary = fetch_all(source_at(server, tmp_path / "c"), rows, workers=3)
        assert [r.status for r in results] == ["ok", "failed", "failed"]
        assert "after 6 attempts" in results[1].error and "HTTP 500" in results[1].error
        assert "HTTP 404" in results[2].error and len(server.requests_for(keys[2])) == 1
        assert (summary.downloaded, summary.failed, summary.requests) == (1, 2, 1 + 6 + 1)
        # failures were not cached: the next run asks again and now succeeds for row 1
        again, _ = fetch_all(source_at(server, tmp_path / "c"), rows, workers=3)
        assert [r.status for r in again] == ["cached", "ok", "failed"]
        assert np.array_equal(again[1].image, decode(images[keys[1]]))


def test_retry_after_is_honoured_and_backoff_grows(sky):
    _, keys, images, _ = sky
    sleeps = []
    cfg = HttpConfig(timeout=2, retries=5, backoff=0.01, jitter=0.0, max_retry_after=30)
    faults = {keys[0]: ["429", "503"], keys[1]: ["500", "500", "html"]}
    with FaultyImageServer(images, faults=faults, retry_after="2") as server:
        source = SkyServerSource(
            base_url=server.url, pixels=424, cache=None, client=HttpClient(cfg, sleep=sleeps.append)
        )
        assert source.fetch(0, {"objid": "a", "ra": 150.0, "dec": 2.0}).status == "ok"
        assert sleeps == [2.0, 2.0]
        sleeps.clear()
        assert source.fetch(1, {"objid": "b", "ra": 150.01, "dec": 2.01}).status == "ok"
        # urllib3 retries the first failure at once, then waits backoff * 2**(n-1); the invalid
        # body is the third failure of the same budget, so its wait keeps growing
        assert sleeps == pytest.approx([0.02, 0.04])
    # an HTTP-date Retry-After, and a cap against absurd waits
    retry_after = make_retry(HttpConfig(max_retry_after=300)).get_retry_after

    def header(value):
        return SimpleNamespace(headers={"Retry-After": value})

    assert retry_after(header("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0
    assert retry_after(header("120")) == 120.0 and retry_after(header("soon")) is None
    assert retry_after(header("3600")) == 300.0 and retry_after(SimpleNamespace(headers={})) is None
    capped = HttpClient(HttpConfig(backoff=0.01, max_retry_after=0.5), sleep=sleeps.append)
    sleeps.clear()
    with FaultyImageServer(images, faults={keys[0]: ["429"]}, retry_after="3600") as server:
        src = SkyServerSource(base_url=server.url, pixels=424, cache=None, client=capped)
        assert src.fetch(0, {"objid": "a", "ra": 150.0, "dec": 2.0}).status == "ok"
    assert sleeps == [0.5]


def test_unreachable_service_fails_fast_with_network_error(tmp_path, sky, fake_clock):
    table = sky[0]
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = SkyServerSource(base_url=f"http://127.0.0.1:{port}", pixels=424, cache=tmp_path / "c", http=FAST)
    with pytest.raises(NetworkError, match=rf"cannot reach 127\.0\.0\.1:{port} after 6 attempts") as err:
        list(fetch_many(source, table, workers=4))
    assert isinstance(err.value, GalcatError)
    # the waiting it planned (backoff, on the network layer's clock) is short: it fails fast
    assert fake_clock.sleeps and sum(fake_clock.sleeps) < 10


def test_masked_coordinates_fail_without_a_request(tmp_path, sky):
    _, keys, images, _ = sky
    table = Table()
    table["objid"] = ["x", "y"]
    table["ra"] = MaskedColumn([150.0, 0.0], mask=[False, True])
    table["dec"] = MaskedColumn([2.0, 0.0], mask=[False, True])
    with FaultyImageServer(images) as server:
        results, _ = fetch_all(source_at(server, None), table, workers=2)
        assert [r.status for r in results] == ["ok", "failed"]
        assert "row 1 (objid y): ra/dec unknown" in results[1].error
        assert len(server.log) == 1


def test_rows_at_the_same_position_share_one_download(tmp_path, sky):
    _, keys, images, _ = sky
    table = Table({"objid": ["a", "b", "c", "d"], "ra": [150.0] * 3 + [150.01], "dec": [2.0] * 3 + [2.01]})
    with FaultyImageServer(images, slow_seconds=0.2, faults={keys[0]: ["trickle"]}) as server:
        slow_ok = HttpConfig(timeout=2, total_timeout=5)
        results, summary = fetch_all(source_at(server, tmp_path / "c", http=slow_ok), table, workers=4)
    assert sorted(r.status for r in results[:3]) == ["cached", "cached", "ok"] and results[3].status == "ok"
    assert len({r.sha256 for r in results[:3]}) == 1
    assert len(server.requests_for(keys[0])) == 1 and summary.requests == 2


def test_damaged_cache_entry_is_downloaded_again(tmp_path, sky):
    _, keys, images, _ = sky
    with FaultyImageServer(images) as server:
        source = source_at(server, tmp_path / "c")
        row = {"objid": "a", "ra": 150.0, "dec": 2.0}
        url = source.url_for_row(0, row)
        source.cache.put(url, images[keys[0]][:1000])  # a half-written file from an old version
        res = source.fetch(0, row)
        assert res.status == "ok" and len(server.log) == 1
        assert source.cache.get(url) == images[keys[0]]
        assert source.fetch(0, row).status == "cached" and len(server.log) == 1


class _SlowCountingSource:
    name = "counting"

    def __init__(self):
        self.active = self.peak = 0
        self.lock = threading.Lock()
        self.overlapped = threading.Event()

    def fetch(self, row_index, row):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            if self.active > 1:
                self.overlapped.set()
        self.overlapped.wait(timeout=10)  # the first rows wait for a second to start: no sleeping
        with self.lock:
            self.active -= 1
        return FetchResult(str(row["objid"]), row_index, "ok", np.zeros((2, 2, 3), np.uint8))


def test_concurrency_is_bounded_and_every_row_comes_back_once():
    table = Table({"objid": [f"g{i}" for i in range(60)]})
    source = _SlowCountingSource()
    results = list(fetch_many(source, table, workers=3, progress=False))
    assert sorted(r.row_index for r in results) == list(range(60))
    assert [r.objid for r in sorted(results, key=lambda r: r.row_index)] == list(table["objid"])
    assert 1 < source.peak <= 3


def test_rate_limit_size_cap_and_progress_output(tmp_path, sky, capsys, monkeypatch, fake_clock):
    import galcat.progress

    monkeypatch.setattr(galcat.progress, "console", Console(stderr=True, width=80))
    table, keys, images, _ = sky
    rows = table[8:16]  # no blank position among them
    with FaultyImageServer(images) as server:
        paced = SkyServerSource(
            base_url=server.url, pixels=424, cache=None, http=HttpConfig(timeout=2, max_rate=20.0)
        )
        results = list(fetch_many(paced, rows, workers=4, progress=True))
        assert all(r.status == "ok" for r in results)
        # 8 requests from 4 threads at <= 20/s, on a clock that stands still: the first goes at
        # once, the others wait for slots 1/20 s apart
        assert sorted(fake_clock.sleeps) == pytest.approx([i / 20 for i in range(1, 8)])
        stamps = []  # a body over max_bytes is refused (and retried, then failed)
        capped = SkyServerSource(
            base_url=server.url, pixels=424, cache=None,
            client=HttpClient(HttpConfig(max_bytes=1000, retries=1, backoff=0), sleep=stamps.append),
        )  # fmt: skip
        res = capped.fetch(0, rows[0])
        assert res.status == "failed" and "larger than 1000 bytes" in res.error and res.attempts == 2
    err = capsys.readouterr().err
    assert (
        "fetch skyserver" in err
        and "8/8" in err
        and re.search(r"\d+\.\d/s", err)
        and "new 8" in err
        and "blank" not in err  # zero counts are left out, so the line fits 80 columns
    )


class _OneDeadRowSource:
    """Row 0 fails at once; every other row waits until the test releases it."""

    name = "dead"

    def __init__(self):
        self.release = threading.Event()
        self.finished: list[int] = []

    def fetch(self, row_index, row):
        if row_index == 0:
            raise NetworkError("cannot reach example.org after 6 attempts")
        self.release.wait(timeout=30)
        self.finished.append(row_index)
        return FetchResult(str(row["objid"]), row_index, "ok", np.zeros((2, 2, 3), np.uint8))


def test_network_error_stops_the_run_without_waiting_for_rows_in_flight():
    table = Table({"objid": [f"g{i}" for i in range(50)]})
    source = _OneDeadRowSource()
    try:
        with pytest.raises(NetworkError, match="example.org"):
            list(fetch_many(source, table, workers=4, progress=False))
        assert source.finished == []  # the error came back while the rows in flight still waited
    finally:
        source.release.set()


def test_unresolvable_host_stops_after_two_attempts(monkeypatch):
    """No DNS (offline machine): one retry, then a NetworkError, not minutes of backoff."""
    looked_up = []

    def no_dns(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = HttpClient(HttpConfig(retries=5, backoff=0.01), sleep=lambda s: None)
    with pytest.raises(NetworkError, match="cannot reach example.invalid after 2 attempts"):
        client.get("http://example.invalid/img.jpg")
    assert looked_up == ["example.invalid", "example.invalid"]
