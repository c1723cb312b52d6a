"""`galcat build` against a SkyServer replayed by a local HTTP server serving real GZ1 JPEG bytes.

Covers the row policy with a web source: a 404 row is 'failed', an all-black cutout is 'blank';
neither becomes a galaxy, both are listed in NAME.failures.ecsv, and the rest keep catalogue order.
"""

from __future__ import annotations

import hashlib
import io
from urllib.parse import parse_qs, urlparse

import astropy.units as u
import numpy as np
from astropy.table import Table
from PIL import Image
from typer.testing import CliRunner
from werkzeug import Response

from galcat.cli import app
from galcat.store import open_store


def test_build_from_replayed_skyserver(tmp_path, shared_data, httpserver, monkeypatch):
    monkeypatch.setenv("GALCAT_CACHE_DIR", str(tmp_path / "cache"))
    jpegs = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[:6]
    buf = io.BytesIO()
    Image.fromarray(np.zeros((423, 423, 3), np.uint8)).save(buf, format="JPEG")
    black = buf.getvalue()
    table = Table()
    table["objid"] = [p.stem for p in jpegs]
    table["ra"] = np.arange(10.0, 16.0) * u.deg
    table["dec"] = np.full(6, 1.5) * u.deg
    table["hubble9"] = ["E", "Sa", "Sb", "Sc", "S0", "Irr"]
    table.meta["label_schemes"] = {"hubble9": ["E", "Irr", "S0", "SBa", "SBb", "SBc", "Sa", "Sb", "Sc"]}
    table.write(tmp_path / "cat.ecsv")

    def cutout(request):
        ra = float(parse_qs(urlparse(request.url).query)["ra"][0])
        row = int(round(ra - 10))
        if row == 2:
            return Response("no such object", status=404)
        body = black if row == 4 else jpegs[row].read_bytes()
        return Response(body, content_type="image/jpeg")

    httpserver.expect_request("/dr17/SkyServerWS/ImgCutout/getjpeg").respond_with_handler(cutout)
    out = tmp_path / "remote.h5"
    args = ["build", "gz2", "--catalogue", str(tmp_path / "cat.ecsv"), "--out", str(out)]
    result = CliRunner().invoke(
        app, [*args, "--base-url", httpserver.url_for("/").rstrip("/"), "--pixels", "423"]
    )
    assert result.exit_code == 0, result.output
    store = open_store(out)
    kept = [0, 1, 3, 5]
    assert list(store.catalogue["objid"]) == [jpegs[i].stem for i in kept]
    assert store.provenance("sha256") == [hashlib.sha256(jpegs[i].read_bytes()).hexdigest() for i in kept]
    assert all("ImgCutout" in s for s in store.provenance("source"))
    assert store.config["service"] == "skyserver" and store.config["release"] == 17  # the default
    assert store.config["pixels"] == 423
    failures = Table.read(tmp_path / "remote.failures.ecsv", format="ascii.ecsv")
    assert list(failures["row"]) == [2, 4] and list(failures["status"]) == ["failed", "blank"]
    info = CliRunner().invoke(app, ["info", str(out)])
    assert "blank=1" in info.output and "failed=1" in info.output


def test_build_from_a_replayed_legacy_surveys_viewer(tmp_path, shared_data, httpserver, monkeypatch):
    """`--service legacysurvey` reaches the same factory as classify: layer and scale in the URL."""
    monkeypatch.setenv("GALCAT_CACHE_DIR", str(tmp_path / "cache"))
    jpegs = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[:3]
    table = Table()
    table["objid"] = [p.stem for p in jpegs]
    table["ra"] = np.arange(10.0, 13.0) * u.deg
    table["dec"] = np.full(3, -1.5) * u.deg
    table.write(tmp_path / "cat.ecsv")
    seen = []

    def cutout(request):
        query = parse_qs(urlparse(request.url).query)
        seen.append(query)
        return Response(jpegs[int(round(float(query["ra"][0]) - 10))].read_bytes(), content_type="image/jpeg")

    httpserver.expect_request("/viewer/cutout.jpg").respond_with_handler(cutout)
    out = tmp_path / "legacy.h5"
    result = CliRunner().invoke(
        app,
        ["build", "targets", "--catalogue", str(tmp_path / "cat.ecsv"), "--out", str(out), "--size", "32",
         "--service", "legacysurvey", "--pixels", "423", "--base-url", httpserver.url_for("/").rstrip("/")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(seen) == 3 and {q["layer"][0] for q in seen} == {"ls-dr10"} and seen[0]["size"] == ["423"]
    store = open_store(out)
    assert list(store.catalogue["objid"]) == [p.stem for p in jpegs]
    assert store.config["service"] == "legacysurvey" and store.config["scale"] == 0.262
    assert store.config["pixels"] == 423 and "LegacySurveySource" in store.config["source_options"]["source"]
