"""URL forms, payload validation, the disk cache and local archives on real EFIGI / GZ1 files."""

from __future__ import annotations

import hashlib
import io
import os
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from astropy.table import Table
from helpers.faulty_server import FaultyImageServer, grey_jpeg, position_key
from PIL import Image

from galcat.errors import GalcatError
from galcat.images import (
    Hips2FitsSource,
    HttpConfig,
    InvalidPayload,
    LegacySurveySource,
    LocalArchiveSource,
    SkyServerSource,
    decode_image,
    fetch_all,
    is_blank,
)

FAST = HttpConfig(timeout=0.5, retries=3, backoff=0.001, max_backoff=0.01, max_retry_after=0.01)


def rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_skyserver_url_form():
    source = SkyServerSource(cache=None)
    url = source.url_for_row(0, {"ra": 187.70593, "dec": 12.39112})
    assert url == (
        "https://skyserver.sdss.org/dr17/SkyServerWS/ImgCutout/getjpeg"
        "?ra=187.705930&dec=12.391120&scale=0.396&width=424&height=424"
    )
    dr16 = SkyServerSource("https://example.org/", release=16, scale=0.2, pixels=128, opt="G", cache=None)
    assert dr16.url_for_row(0, {"ra": -10.0, "dec": 0.5}).startswith(
        "https://example.org/dr16/SkyServerWS/ImgCutout/getjpeg?ra=350.000000&dec=0.500000&scale=0.2"
    )
    with pytest.raises(GalcatError, match="64..2048"):
        SkyServerSource(pixels=32)


def test_hips2fits_query_and_download(tmp_path, shared_data):
    source = Hips2FitsSource(pixels=424, scale=0.396, cache=None)
    parts = urlsplit(source.url_for_row(0, {"ra": 187.70593, "dec": 12.39112}))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://alasky.cds.unistra.fr/hips-image-services/hips2fits"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["hips"] == "CDS/P/SDSS9/color" and query["format"] == "jpg"
    assert (query["width"], query["height"], query["projection"], query["coordsys"]) == (
        "424",
        "424",
        "TAN",
        "icrs",
    )
    assert float(query["fov"]) == pytest.approx(424 * 0.396 / 3600) and float(query["ra"]) == 187.70593
    # the same GET through the retrying client, against a local stand-in serving real bytes
    jpeg = sorted((shared_data / "gz2" / "kaggle" / "images").glob("*.jpg"))[0]
    key = position_key(187.70593, 12.39112)
    with FaultyImageServer({key: jpeg.read_bytes()}, faults={key: ["json", "503"]}) as server:
        local = Hips2FitsSource(server=server.hips2fits_url, pixels=424, cache=tmp_path / "c", http=FAST)
        res = local.fetch(0, {"objid": "NGC4321", "ra": 187.70593, "dec": 12.39112})
        assert res.status == "ok" and res.attempts == 3
        assert np.array_equal(res.image, rgb(jpeg))
        assert server.log[-1].query["hips"] == "CDS/P/SDSS9/color"
        # a cutout of the wrong size is not what was asked for
        small = Hips2FitsSource(server=server.hips2fits_url, pixels=128, cache=None, http=FAST)
        bad = small.fetch(0, {"objid": "NGC4321", "ra": 187.70593, "dec": 12.39112})
        assert bad.status == "failed" and "424x424, expected 128x128" in bad.error


def test_legacy_survey_url_and_download(tmp_path, shared_data):
    source = LegacySurveySource(cache=None)
    assert source.url_for_row(0, {"ra": 187.70593, "dec": 12.39112}) == (
        "https://www.legacysurvey.org/viewer/cutout.jpg"
        "?ra=187.705930&dec=12.391120&layer=ls-dr10&pixscale=0.262&size=256"
    )
    with pytest.raises(GalcatError, match="1..512"):
        LegacySurveySource(pixels=1024)
    jpeg = sorted((shared_data / "incnet").glob("*.jpg"))[0]  # a real 512x512 SDSS cutout
    key = position_key(10.0, -5.0)
    with FaultyImageServer({key: jpeg.read_bytes()}, faults={key: ["reset"]}) as server:
        local = LegacySurveySource(base_url=server.url, pixels=512, cache=tmp_path / "c", http=FAST)
        res = local.fetch(0, {"objid": "pgc1", "ra": 10.0, "dec": -5.0})
        assert res.status == "ok" and res.attempts == 2 and np.array_equal(res.image, rgb(jpeg))
        assert server.log[-1].query["layer"] == "ls-dr10"


def test_decode_rejects_error_bodies_and_truncated_jpegs(shared_data):
    data = (shared_data / "gz2" / "kaggle" / "images" / "100134.jpg").read_bytes()
    assert decode_image(data, (424, 424)).shape == (424, 424, 3)
    with pytest.raises(InvalidPayload, match="HTML page"):
        decode_image(b"<!DOCTYPE html><html><body>Server Error</body></html>")
    with pytest.raises(InvalidPayload, match="JSON document"):
        decode_image(b'{"title": "Bad request"}')
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(InvalidPayload, match="does not decode"):
            decode_image(data[:cut])
    with pytest.raises(InvalidPayload, match="expected 255x255"):
        decode_image(data, (255, 255))


def test_blank_detection_flags_constant_images_but_no_real_galaxy(shared_data):
    assert is_blank(decode_image(grey_jpeg()))
    assert is_blank(np.zeros((64, 64, 3), np.uint8))
    mostly_black = np.zeros((100, 100, 3), np.uint8)
    mostly_black[:3, :3] = 200  # a few hot pixels do not make a galaxy
    assert is_blank(mostly_black)
    real = (
        sorted((shared_data / "gz2" / "kaggle" / "images").glob("*.jpg"))[:40]
        + sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[:20]
        + sorted((shared_data / "efigi" / "png").glob("*.png"))
    )
    assert [p.name for p in real if is_blank(rgb(p))] == []


def test_local_archive_efigi_pngs(tmp_path, shared_data):
    folder = shared_data / "efigi" / "png"
    names = sorted(p.stem for p in folder.glob("*.png"))
    assert len(names) == 15
    table = Table({"objid": names + ["PGC9999999"], "pgc": [int(n[3:]) for n in names] + [9999999]})
    source = LocalArchiveSource(folder)
    results, summary = fetch_all(source, table, workers=4)
    for res, name in zip(results[:15], names, strict=True):
        path = folder / f"{name}.png"
        assert res.status == "ok" and res.image.shape == (255, 255, 3)
        assert np.array_equal(res.image, rgb(path)) and res.origin == str(path)
        assert res.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    missing = results[15]
    assert missing.status == "failed" and str(folder / "PGC9999999") in missing.error
    assert (summary.downloaded, summary.failed) == (15, 1)
    # bare PGC numbers through a pattern, upper/lower-case names and extensions
    renamed = tmp_path / "mixed"
    renamed.mkdir()
    os.symlink(folder / f"{names[0]}.png", renamed / f"{names[0].lower()}.PNG")
    by_number = LocalArchiveSource(renamed, pattern="PGC{key:0>7}", key="pgc")
    res = by_number.fetch(0, table[0])
    assert res.status == "ok" and np.array_equal(res.image, rgb(folder / f"{names[0]}.png"))
    with pytest.raises(GalcatError, match="does not exist"):
        LocalArchiveSource(tmp_path / "nope")


def test_local_archive_galaxy_zoo_jpegs_keyed_by_catalogue_meta(shared_data):
    folder = shared_data / "gz1" / "images"
    files = sorted(folder.glob("*.jpeg"))[:6]
    table = Table({"name": ["x"] * 6, "dr7objid": np.array([int(p.stem) for p in files], dtype=np.int64)})
    table.meta["image_key"] = "dr7objid"  # the standard-table way to name the file column
    results, _ = fetch_all(LocalArchiveSource(folder, expected_size=(423, 423)), table, workers=2)
    for res, path in zip(results, files, strict=True):
        assert res.status == "ok" and np.array_equal(res.image, rgb(path))
    bmp = shared_data / "gz2" / "examples" / "Sb.jpeg"  # a BMP despite its extension: still decodes
    res = LocalArchiveSource(bmp.parent).fetch(0, {"objid": "Sb"})
    assert res.status == "ok" and res.image.shape == (256, 256, 3)


def test_local_archive_flags_blank_and_undecodable_files(tmp_path):
    Image.new("RGB", (40, 40), (0, 0, 0)).save(tmp_path / "dark.png")
    (tmp_path / "broken.jpg").write_bytes(b"<html>not an image</html>")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(buf, "PNG")
    (tmp_path / "good.png").write_bytes(buf.getvalue())
    table = Table({"objid": ["dark", "broken", "good"]})
    results, summary = fetch_all(LocalArchiveSource(tmp_path), table, workers=2)
    assert [r.status for r in results] == ["blank", "failed", "ok"]
    assert "broken.jpg" in results[1].error and "HTML page" in results[1].error
    assert (summary.blank, summary.failed, summary.downloaded) == (1, 1, 1)


@pytest.mark.parametrize("source_name", ["SkyServerSource", "Hips2FitsSource", "LegacySurveySource"])
def test_every_url_source_refuses_a_non_positive_scale(source_name):
    import galcat.images as images

    with pytest.raises(GalcatError, match="scale must be positive arcsec/pixel, got 0"):
        getattr(images, source_name)(scale=0, cache=False)
    assert getattr(images, source_name)(cache=False).scale > 0
