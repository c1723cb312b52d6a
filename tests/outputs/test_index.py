"""Embedding index (faiss and torch agree, saved files invalidate, read-only folders fall back to
the user cache), query lookup, neighbour grid."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy import units as u
from astropy.table import Table
from PIL import Image

import galcat.atomic
from galcat.errors import GalcatError
from galcat.model.checkpoint import model_hash
from galcat.outputs.index import EmbeddingIndex, index_key
from galcat.outputs.neighbours import find_query, parse_position, render_grid


def _brute_force(query, vectors, k):
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    d = np.linalg.norm(q[:, None, :] - v[None, :, :], axis=2)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


@pytest.fixture()
def vectors():
    return np.random.default_rng(4).normal(size=(50, 12)).astype(np.float32)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_search_matches_brute_force(vectors, backend):
    ids = np.arange(100, 150)  # store rows need not start at 0
    index = EmbeddingIndex.build(vectors, ids, backend=backend)
    assert index.backend == backend
    query = vectors[:5] + 0.01
    dist, rows = index.search(query, 4)
    ref_dist, ref_pos = _brute_force(query, vectors, 4)
    assert np.array_equal(rows, ids[ref_pos])
    assert np.allclose(dist, ref_dist, atol=1e-4)
    # the query's own row is dropped, the next neighbour moves up
    dist_x, rows_x = index.search(vectors[:5], 4, exclude_rows=ids[:5])
    assert not np.any(rows_x == ids[:5, None])
    _, ref_pos = _brute_force(vectors[:5], vectors, 5)
    assert np.array_equal(rows_x, ids[ref_pos[:, 1:]])
    with pytest.raises(GalcatError, match="cannot return 60 neighbours"):
        index.search(query, 60)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_saved_index_is_reused_and_invalidated(vectors, tmp_path, backend):
    store = tmp_path / "ref.h5"
    store.write_bytes(b"")  # the index lives beside the store; its content is not read here
    key = index_key(tmp_path / "run", 0)
    EmbeddingIndex.build(vectors, np.arange(50), "fp-1", "model-1", backend=backend).save(store, key)
    suffix = ".index" if backend == "faiss" else ".npy"
    assert (tmp_path / f"ref.h5.{key}{suffix}").exists() and (tmp_path / f"ref.h5.{key}.ids.npy").exists()
    loaded = EmbeddingIndex.load(store, key, "fp-1", "model-1")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert loaded is not None and np.allclose(loaded.vectors_of(np.arange(50)), unit, atol=1e-6)
    assert EmbeddingIndex.load(store, key, "fp-2", "model-1") is None  # store content changed
    assert EmbeddingIndex.load(store, key, "fp-1", "model-2") is None  # model weights changed
    assert EmbeddingIndex.load(store, index_key(tmp_path / "run", 1), "fp-1", "model-1") is None
    (tmp_path / f"ref.h5.{key}.ids.npy").write_bytes(b"garbage")  # a damaged index is rebuilt
    assert EmbeddingIndex.load(store, key, "fp-1", "model-1") is None


def test_index_kind_is_chosen_by_size_and_recorded(tmp_path):
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(3000, 8)).astype(np.float32)
    store = tmp_path / "big.h5"
    for flat_max_rows, kind in ((10_000, "flat"), (2000, "ivf")):
        index = EmbeddingIndex.build(vectors, np.arange(3000), "fp", "m", flat_max_rows=flat_max_rows)
        index.save(store, f"k{kind}")
        meta = json.loads((tmp_path / f"big.h5.k{kind}.json").read_text())
        assert (meta["backend"], meta["kind"], meta["n"], meta["dim"]) == ("faiss", kind, 3000, 8)
        assert ("nlist" in meta) == (kind == "ivf")
        loaded = EmbeddingIndex.load(store, f"k{kind}", "fp", "m")
        assert loaded.meta == index.meta
        rows = loaded.search(vectors[:3], 4, exclude_rows=[0, 1, 2])[1]
        assert not (rows == np.arange(3)[:, None]).any()


def _deny_writes_in(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unwritable: chmod 555, and for root (whom permissions do not stop) every
    galcat write there fails with EACCES, as it would on a read-only mount."""
    folder.chmod(0o555)
    real = galcat.atomic.temp_path_for

    def denied(path):
        if Path(path).parent.resolve() == folder.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(galcat.atomic, "temp_path_for", denied)


def test_read_only_store_folder_saves_the_index_in_the_user_cache(vectors, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    store = shared / "ref.h5"
    store.write_bytes(b"")
    cache = tmp_path / "cache"
    monkeypatch.setenv("GALCAT_CACHE_DIR", str(cache))
    _deny_writes_in(shared, monkeypatch)
    key = index_key(tmp_path / "run", 0)
    saved = EmbeddingIndex.build(vectors, np.arange(50), "fp-1", "model-1").save(store, key)
    assert saved is not None and saved.is_relative_to(cache / "index")
    assert sorted(p.name for p in shared.iterdir()) == ["ref.h5"]  # nothing beside the store
    loaded = EmbeddingIndex.load(store, key, "fp-1", "model-1")
    assert loaded is not None and loaded.location == saved
    # neither place writable: the index is still returned and usable, with a warning
    cache.mkdir(exist_ok=True)
    _deny_writes_in(cache / "index" / saved.parent.name, monkeypatch)
    fresh = EmbeddingIndex.build(vectors, np.arange(50), "fp-2", "model-1")
    assert fresh.save(store, key) is None
    assert "not saved" in capsys.readouterr().err
    assert fresh.search(vectors[:1], 3)[1].shape == (1, 3)
    shared.chmod(0o755)


def test_model_hash_follows_the_weights():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    first = model_hash(net)
    assert model_hash(net) == first
    with torch.no_grad():
        net.weight[0, 0] += 1e-3
    assert model_hash(net) != first


@pytest.fixture()
def catalogue():
    return Table(
        {
            "objid": ["NGC7814", "PGC0000212", "SYN1"],
            "ra": [0.812, 359.6, 10.0] * u.deg,
            "dec": [16.1454, 16.5, -5.0] * u.deg,
        }
    )


def test_find_query_by_objid_name_and_position(catalogue):
    assert find_query(catalogue, "SYN1").how == "objid"
    match = find_query(catalogue, "ngc 7814")  # normalised name against catalogue ids
    assert (match.row, match.how) == (0, "name")
    assert find_query(catalogue, "PGC 212").row == 1
    match = find_query(catalogue, "10.0005 -5.0003", radius_arcsec=5)
    assert (match.row, match.how) == (2, "position") and match.separation_arcsec < 5
    assert find_query(catalogue, "00h40m00.1s -05d00m00s", radius_arcsec=20).row == 2
    with pytest.raises(GalcatError, match="no catalogue object within 5 arcsec"):
        find_query(catalogue, "10.1 -5.0", radius_arcsec=5)
    with pytest.raises(GalcatError, match="no --resolver"):
        find_query(catalogue, "NGC 1")
    with pytest.raises(GalcatError, match="RA must be"):
        parse_position("400 95")


def test_find_query_through_the_openngc_resolver(catalogue, shared_data):
    """A name not in the catalogue is resolved offline (OpenNGC) and matched by position."""
    resolver = f"openngc:{shared_data / 'openngc'}"
    table = catalogue.copy()
    table["objid"] = ["PGC218", "X", "Y"]  # NGC 7814 is PGC 218, stored under another id
    match = find_query(table, "NGC 7814", resolver=resolver, radius_arcsec=60)
    assert (match.row, match.how) == (0, "resolver")
    with pytest.raises(GalcatError, match="not resolved"):
        find_query(table, "NGC 99999", resolver=resolver)


def test_grid_png_has_every_panel(tmp_path):
    rng = np.random.default_rng(5)
    images = [np.full((32, 32, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    query = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    titles = [f"NN{i + 1} G{i}\nSa  d=0.{i}" for i in range(6)]
    out = render_grid(query, "query Q\nSb", images, titles, tmp_path / "grid.png", ["tab:green"] * 6, ncols=4)
    png = np.asarray(Image.open(out).convert("RGB"))
    assert png.shape[1] == 4 * 230 and png.shape[0] == 2 * 275  # 7 panels -> 2 rows of 4 at 100 dpi
    assert (png < 250).mean() > 0.05  # something was drawn, not a blank canvas
