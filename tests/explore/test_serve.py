"""A real run's catalogue explored: the report section, and ``--serve`` answering real HTTP requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from io import BytesIO

import numpy as np
import pytest
from helpers.browser import open_site, wait_for
from selenium.webdriver.common.by import By

from galcat.explore.serve import SearchConfig, serve_in_thread
from galcat.explore.site import ExploreConfig, write_site


@pytest.fixture(scope="module")
def explored(tiny, tmp_path_factory):
    """The tiny run's store embedded (its own kNN reference), evaluated, and written as a site."""
    from galcat.evaluate import EvaluateConfig, evaluate
    from galcat.outputs.embed import EmbedConfig, embed_catalogue

    run, store = tiny
    folder = tmp_path_factory.mktemp("explore-run")
    catalogue = folder / "embedded.fits"
    table = embed_catalogue(
        EmbedConfig(
            model=str(run), store=str(store), reference=str(store), out=str(catalogue), k=4, device="cpu"
        )
    )
    report = folder / "report"
    evaluate(EvaluateConfig(model=str(run), query=str(store), reference=str(store), out=str(report),
                            bootstrap=0, device="cpu"))  # fmt: skip
    site = write_site(ExploreConfig(str(catalogue), str(store), str(folder / "site"), reference=str(store),
                                    report=str(report)))  # fmt: skip
    return table, catalogue, store, run, site, report


@pytest.fixture(scope="module")
def server(explored):
    table, catalogue, store, run, site, _ = explored
    server, thread = serve_in_thread(
        SearchConfig(str(site.out), str(catalogue), str(store), str(run), port=0)
    )
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join(10)
    server.server_close()


def request(url, data=None, headers=None):
    """(status, JSON or text body) of a real HTTP request, 4xx/5xx included."""
    req = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            status, body, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, json.loads(body) if "json" in kind else body.decode()


def test_the_report_section_shows_metrics_reliability_and_clickable_mistakes(page, explored):
    table, *_, site, report = explored
    assert (report / "report.html").is_file()
    open_site(page, site.index)
    page.find_element(By.CSS_SELECTOR, "#tabs button[data-view=report]").click()
    metrics = page.find_element(By.ID, "report-metrics").text
    assert "accuracy" in metrics and "ECE after temperature scaling" in metrics
    figure = page.find_element(By.ID, "figure-calibration")
    assert wait_for(lambda: page.execute_script("return arguments[0].naturalWidth", figure) > 100)
    mistakes = json.loads((report / "metrics.json").read_text())["combined"]["mistakes"]
    items = page.find_elements(By.CSS_SELECTOR, "#mistakes .item")
    assert [i.get_attribute("data-id") for i in items] == [m["objid"] for m in mistakes] and mistakes
    items[0].click()
    assert page.find_element(By.ID, "panel-id").text == mistakes[0]["objid"]


def test_search_by_id_and_position_matches_the_catalogue_neighbours(explored, server):
    table = explored[0]
    row = 5
    status, info = request(server + "api/info")
    assert status == 200 and info["search"] and info["upload"]
    status, answer = request(server + f"api/similar?q={table['objid'][row]}&k=4")
    assert status == 200, answer
    # the catalogue is its own reference, so the server's search repeats embed's kNN columns
    assert [n["objid"] for n in answer["neighbours"]] == str(table["knn_ids"][row]).split(",")
    assert np.allclose([n["distance"] for n in answer["neighbours"]], table["knn_dists"][row], atol=1e-4)
    ra, dec = float(table["ra"][row]), float(table["dec"][row])
    status, by_position = request(server + f"api/similar?q={ra:.6f}%20{dec:+.6f}&k=4")
    assert status == 200 and by_position["neighbours"] == answer["neighbours"]
    assert "position" in by_position["query"] and str(table["objid"][row]) in by_position["query"]


def test_an_uploaded_image_finds_its_own_galaxy_first(explored, server):
    from PIL import Image

    from galcat.store import open_store

    table, _, store = explored[:3]
    with open_store(store) as opened:
        image = opened.read_images(np.array([11]))[0]
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    status, answer = request(server + "api/similar?k=3", buffer.getvalue(), {"Content-Type": "image/png"})
    assert status == 200, answer
    first = answer["neighbours"][0]
    assert first["objid"] == table["objid"][11] and first["distance"] < 1e-2


@pytest.mark.parametrize(
    "path, data, status, needle",
    [
        ("api/similar?q=no-such-galaxy", None, 400, "not an objid or name"),
        ("api/similar?q=", None, 400, "q is empty"),
        ("api/similar?q=SYN000001&k=many", None, 400, "whole number"),
        ("api/similar?q=SYN000001&k=0", None, 400, "between 1 and 100"),
        ("api/similar?q=400%2090", None, 400, "RA must be in [0, 360]"),
        ("api/similar?q=10%2010", None, 400, "no catalogue object within"),
        ("api/similar", b"not an image at all", 400, "not a readable image"),
        ("api/similar", b"", 400, "empty"),
        ("api/nothing", None, 404, "no such API path"),
        ("index.html", b"x", 405, "only api/similar accepts POST"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message_and_no_traceback(server, path, data, status, needle):
    got, body = request(server + path, data)
    assert got == status, body
    assert needle in body["error"] and "Traceback" not in json.dumps(body)


def test_an_oversized_upload_is_refused_before_it_is_read(server):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("POST", "/api/similar")
    connection.putheader("Content-Length", str(50 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "at most" in json.loads(response.read())["error"]
    connection.close()


def test_static_files_are_served_and_missing_ones_are_404(server):
    status, text = request(server)
    assert status == 200 and "assets/explore.js" in text
    status, _ = request(server + "img/nothing.jpg")
    assert status == 404
    status, _ = request(server + "../../etc/passwd")
    assert status == 404


def test_the_served_page_searches_from_the_browser(page, explored, server):
    table = explored[0]
    open_site(page, server)
    tab = page.find_element(By.ID, "tab-search")
    assert wait_for(tab.is_displayed)
    tab.click()
    page.find_element(By.ID, "search-query").send_keys(str(table["objid"][5]))
    page.find_element(By.ID, "search-k").clear()
    page.find_element(By.ID, "search-k").send_keys("4")
    page.find_element(By.ID, "search-go").click()
    assert wait_for(lambda: page.find_elements(By.CSS_SELECTOR, "#search-results .neighbour"), timeout=30)
    ids = [
        e.get_attribute("data-id") for e in page.find_elements(By.CSS_SELECTOR, "#search-results .neighbour")
    ]
    assert ids == str(table["knn_ids"][5]).split(",")
    page.find_element(By.ID, "search-query").clear()
    page.find_element(By.ID, "search-query").send_keys("no-such-galaxy")
    page.find_element(By.ID, "search-go").click()
    assert wait_for(lambda: "error:" in page.find_element(By.ID, "search-status").text)
    page.get_log("browser")  # the 400 is logged by the browser as a failed resource: expected here


def test_serve_listens_on_localhost_by_default(explored):
    from galcat.explore.serve import make_server

    _, catalogue, store, run, site, _ = explored
    server = make_server(SearchConfig(str(site.out), str(catalogue), str(store), str(run), port=0))
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_a_name_is_resolved_as_classify_resolves_it(shared_data, tmp_path):
    """``--resolver openngc:PATH`` (offline, the real OpenNGC): 'M 100' finds the galaxy at its position."""
    from helpers.explore_data import synthetic_explore_inputs

    from galcat.coords import get_resolver
    from galcat.tables import read_table, write_table

    resolver = f"openngc:{shared_data / 'openngc'}"
    m100 = get_resolver(resolver).resolve(["M 100"])
    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=1)
    table = read_table(catalogue)
    table["ra"][3], table["dec"][3] = float(m100["ra"][0]), float(m100["dec"][0]) + 1 / 3600
    write_table(table, catalogue, overwrite=True)
    site = write_site(ExploreConfig(str(catalogue), str(store), str(tmp_path / "site")))
    server, thread = serve_in_thread(
        SearchConfig(str(site.out), str(catalogue), str(store), port=0, resolver=resolver)
    )
    try:
        status, answer = request(f"http://127.0.0.1:{server.server_address[1]}/api/similar?q=M%20100&k=2")
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert status == 200, answer
    assert answer["query"].startswith(f"resolved name 'M 100' -> galaxy {table['objid'][3]}, 1.0 arcsec")
