"""SIMBAD / Sesame / VizieR clients against a local server replaying real service responses."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.replay_server import flaky, recording, request_count, serve, slow

from galcat.coords import get_resolver
from galcat.coords.remote import sesame_query_url
from galcat.coords.vizier import fetch_vizier_catalogue
from galcat.errors import GalcatError, NetworkError

SIMBAD_M1 = "esa/jwst/tests/data/simbad_M1.vot"  # SIMBAD TAP answer for M1 (recorded by astroquery)
TAP_SYNC = "/simbad/sim-tap/sync"
FAST = {"retries": 2, "backoff": 0.01, "rate_per_second": 100.0}


def _simbad(httpserver, tmp_path, **kwargs):
    options = {**FAST, **kwargs}
    return get_resolver("simbad", cache_dir=tmp_path, url=httpserver.url_for("/simbad/sim-tap"), **options)


def test_simbad_batch_query_is_a_tap_upload_and_is_cached(httpserver, shared_data, tmp_path):
    serve(httpserver, TAP_SYNC, recording(shared_data, SIMBAD_M1), method="POST")
    resolver = _simbad(httpserver, tmp_path)
    first = resolver.resolve(["M1", "NGC 4321", "M 1"])
    assert request_count(httpserver, TAP_SYNC) == 1  # one batched query for all names
    request = httpserver.log[0][0]
    assert "TAP_UPLOAD.script_infos" in request.form["QUERY"] and "script_infos" in request.files
    assert first["ra"][0] == pytest.approx(83.6287) and first["dec"][0] == pytest.approx(22.0147)
    assert first["main_id"][0] == "M 1" and first["source"][0] == "simbad"
    assert first["ra"].mask.tolist() == [False, True, False]  # NGC 4321 was not in the answer
    cache_file = tmp_path / "simbad_names.ecsv"
    assert cache_file.exists()

    second = get_resolver("simbad", cache_dir=tmp_path, url=httpserver.url_for("/simbad/sim-tap"), **FAST)
    again = second.resolve(["M1", "NGC 4321"])
    assert request_count(httpserver, TAP_SYNC) == 1  # answered from the disk cache, misses included
    assert again["ra"][0] == pytest.approx(83.6287) and again["ra"].mask[1]


def test_simbad_batches_and_rate_limit(httpserver, shared_data, tmp_path, fake_clock):
    serve(httpserver, TAP_SYNC, recording(shared_data, SIMBAD_M1), method="POST")
    resolver = _simbad(httpserver, tmp_path, batch_size=2, rate_per_second=5.0, use_cache=False)
    resolver.resolve(["M1", "A", "B", "C", "D"])
    assert request_count(httpserver, TAP_SYNC) == 3
    assert fake_clock.sleeps == pytest.approx([0.2, 0.4])  # 3 requests at <= 5 per second
    # the limit belongs to the host: a new resolver, a second later, still waits its turn
    fake_clock.advance(0.5)
    _simbad(httpserver, tmp_path, rate_per_second=5.0, use_cache=False).resolve(["M1"])
    assert fake_clock.sleeps[2:] == pytest.approx([0.1])


def test_simbad_retries_transient_errors_then_succeeds(httpserver, shared_data, tmp_path):
    calls = flaky(httpserver, TAP_SYNC, recording(shared_data, SIMBAD_M1), failures=2, status=503)
    result = _simbad(httpserver, tmp_path).resolve(["M1"])
    assert calls["n"] == 3 and not result["ra"].mask[0]


def test_simbad_persistent_failure_is_a_fast_network_error(httpserver, tmp_path, fake_clock):
    flaky(httpserver, TAP_SYNC, b"", failures=100, status=500)
    with pytest.raises(NetworkError, match=r"SIMBAD .* failed after 3 attempts"):
        _simbad(httpserver, tmp_path).resolve(["M1"])
    assert sum(fake_clock.sleeps) < 5  # backoff and rate limit together, on the fake clock
    assert not (tmp_path / "simbad_names.ecsv").exists()  # failures are not cached as misses


def test_simbad_unexpected_answer_is_reported(httpserver, shared_data, tmp_path):
    # a real SIMBAD TAP_SCHEMA answer (columns listing) instead of an object table
    serve(httpserver, TAP_SYNC, recording(shared_data, "simbad/tests/data/simbad_basic_columns.xml"))
    with pytest.raises(NetworkError, match="unexpected columns"):
        _simbad(httpserver, tmp_path).resolve(["M1"])


def test_unreachable_and_slow_servers_fail_fast(httpserver, tmp_path, fake_clock):
    with pytest.raises(NetworkError, match="SIMBAD"):
        get_resolver("simbad", cache_dir=tmp_path, url="http://127.0.0.1:9/simbad/sim-tap", **FAST).resolve(
            ["M1"]
        )
    slow(httpserver, TAP_SYNC, delay=1.5)
    with pytest.raises(NetworkError, match="(?i)timed? ?out"):
        _simbad(httpserver, tmp_path, timeout=(1.0, 0.3), retries=0).resolve(["M1"])
    assert sum(fake_clock.sleeps) < 8  # what it chose to wait; the socket timeouts are (1.0, 0.3) s
    assert issubclass(NetworkError, GalcatError)


def test_sesame_resolver_parses_the_documented_answer_and_caches(httpserver, tmp_path):
    base = httpserver.url_for("/cgi-bin/nph-sesame/")
    # Sesame's plain-text answer; astropy's name_resolve parses the first %J line
    body = b"# M87\n%J 187.70593 +12.39112 = 12:30:49.42 +12:23:28.0\n"
    httpserver.expect_request("/cgi-bin/nph-sesame/SNV").respond_with_data(body)
    resolver = get_resolver("sesame", cache_dir=tmp_path, url=base, **FAST)
    result = resolver.resolve(["M87", "M87"])
    assert result["ra"][0] == pytest.approx(187.70593) and result["dec"][1] == pytest.approx(12.39112)
    assert request_count(httpserver, "/cgi-bin/nph-sesame") == 1
    assert sesame_query_url(base, "NGC 4486").endswith("/SNV?NGC%204486")
    resolver2 = get_resolver("sesame", cache_dir=tmp_path, url=base, **FAST)
    resolver2.resolve(["M 87"])  # same compact key as M87
    assert request_count(httpserver, "/cgi-bin/nph-sesame") == 1


def test_sesame_unknown_name_is_masked_not_an_error(httpserver, tmp_path):
    httpserver.expect_request("/cgi-bin/nph-sesame/SNV").respond_with_data(b"# nothing found\n#!Nothing\n")
    resolver = get_resolver(
        "sesame", cache_dir=tmp_path, url=httpserver.url_for("/cgi-bin/nph-sesame/"), **FAST
    )
    result = resolver.resolve(["Not A Galaxy"])
    assert result["ra"].mask[0] and np.ma.is_masked(result["pgc"][0])


def test_vizier_catalogue_replay(httpserver, shared_data):
    serve(httpserver, "/viz-bin/votable", recording(shared_data, "vizier/tests/data/kang2010.xml"))
    tables = fetch_vizier_catalogue("J/ApJ/706/83", server=httpserver.url_for("/").rstrip("/"), backoff=0.01)
    assert len(tables) == 1 and len(tables[0]) == 50
    request = httpserver.log[0][0]
    assert request.method == "POST" and "J/ApJ/706/83" in request.get_data(as_text=True)


def test_vizier_error_votable_is_a_clear_network_error(httpserver, shared_data):
    # astroquery itself returns an empty TableList for this answer; galcat must not
    serve(httpserver, "/viz-bin/votable", recording(shared_data, "vizier/tests/data/no_server_error.xml"))
    with pytest.raises(
        NetworkError, match="VII/51 answered with an error: The database is not currently reachable"
    ):
        fetch_vizier_catalogue("VII/51", server=httpserver.url_for("/"), backoff=0.01)


def test_vizier_calls_share_one_rate_limit_and_the_cache(httpserver, shared_data, tmp_path, fake_clock):
    serve(httpserver, "/viz-bin/votable", recording(shared_data, "vizier/tests/data/kang2010.xml"))
    server = httpserver.url_for("/").rstrip("/")
    for _ in range(2):  # each call builds its own client; the limiter of the host is shared
        fetch_vizier_catalogue("J/ApJ/706/83", server=server, cache=False)
    assert request_count(httpserver, "/viz-bin/votable") == 2
    assert fake_clock.sleeps == pytest.approx([0.2])  # 5 requests/s per VizieR host
    first = fetch_vizier_catalogue("J/ApJ/706/83", server=server, cache=tmp_path)
    again = fetch_vizier_catalogue("J/ApJ/706/83", server=server, cache=tmp_path)
    assert request_count(httpserver, "/viz-bin/votable") == 3  # the second came from the cache
    assert len(again[0]) == len(first[0]) == 50
