"""One cache root with documented sub-folders; the content-addressed payload cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from galcat.errors import GalcatError
from galcat.net import CACHE_FOLDERS, DiskCache, cache_dir, cache_root, canonical_url, open_cache

REPO = Path(__file__).resolve().parents[2]


def test_every_cache_lives_under_one_root(tmp_path, monkeypatch):
    from galcat.coords import get_resolver
    from galcat.images import SkyServerSource

    monkeypatch.setenv("GALCAT_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    assert SkyServerSource().cache.root == tmp_path / "cutouts"
    assert get_resolver("simbad").cache.path == tmp_path / "names" / "simbad_names.ecsv"
    assert get_resolver("sesame").cache.path == tmp_path / "names" / "sesame_names.ecsv"
    assert open_cache(True, "vizier").root == tmp_path / "vizier"
    assert cache_dir("index") == tmp_path / "index"
    with pytest.raises(ValueError, match="unknown cache folder 'thumbnails'"):
        cache_dir("thumbnails")
    monkeypatch.delenv("GALCAT_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "galcat"


def test_cache_folders_are_documented():
    docs = (REPO / "docs" / "formats.md").read_text() + (REPO / "docs" / "architecture.md").read_text()
    for folder in CACHE_FOLDERS:
        assert f"{folder}/" in docs, folder


def test_cache_is_content_addressed_by_canonical_url_and_atomic(tmp_path):
    cache = DiskCache(tmp_path)
    a = "HTTP://Example.org/x/getjpeg?ra=1&dec=2&width=3"
    b = "http://example.org/x/getjpeg?width=3&dec=2&ra=1"
    assert canonical_url(a) == canonical_url(b)
    path = cache.put(a, b"bytes")
    assert cache.get(b) == b"bytes" and b in cache
    assert path.name == hashlib.sha256(canonical_url(a).encode()).hexdigest()
    assert cache.get("http://example.org/x/getjpeg?ra=1&dec=2&width=4") is None
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [path.name]  # no temp files left
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(GalcatError, match="cannot write the download cache"):
        DiskCache(blocker / "cache").put(a, b"bytes")
