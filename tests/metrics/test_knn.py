"""The one k-NN: exact against brute force, faiss and torch agree, self-exclusion with duplicates,
block boundaries, and the IVF index chosen (and recorded) for large inputs."""

from __future__ import annotations

import numpy as np
import pytest

import galcat.metrics.knn as knn_module
from galcat.errors import GalcatError
from galcat.metrics.knn import KnnIndex, knn, l2_normalize


def brute_force(query, reference, k, exclude_self=False):
    q, r = l2_normalize(query), l2_normalize(reference)
    d = np.sqrt(np.maximum((q**2).sum(1)[:, None] + (r**2).sum(1)[None] - 2 * q @ r.T, 0))
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


@pytest.fixture()
def data():
    rng = np.random.default_rng(11)
    return rng.normal(size=(400, 16)).astype(np.float32), rng.normal(size=(37, 16)).astype(np.float32)


def test_faiss_and_torch_give_identical_neighbours(data):
    reference, query = data
    exact_d, exact_i = brute_force(query, reference, 9)
    results = {b: knn(query, reference, 9, backend=b) for b in ("faiss", "torch")}
    for dist, idx in results.values():
        np.testing.assert_array_equal(idx, exact_i)
        np.testing.assert_allclose(dist, exact_d, atol=1e-5)
    np.testing.assert_array_equal(results["faiss"][1], results["torch"][1])
    allowed = np.arange(len(reference)) % 3 == 0  # a subset of candidates, e.g. labelled rows
    sub = {
        b: KnnIndex.build(reference, backend=b).search(query, 5, allowed=allowed) for b in ("faiss", "torch")
    }
    np.testing.assert_array_equal(sub["faiss"][1], sub["torch"][1])
    assert allowed[sub["faiss"][1]].all()
    _, sub_exact = brute_force(query, reference[allowed], 5)
    np.testing.assert_array_equal(sub["torch"][1], np.flatnonzero(allowed)[sub_exact])


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_exclude_self_with_duplicates(backend):
    """Rows 0-9 each appear three times: a row's twins (distance 0) are its nearest neighbours,
    never the row itself, whatever order the tied zeros come back in."""
    rng = np.random.default_rng(12)
    base = rng.normal(size=(10, 8)).astype(np.float32)
    x = np.concatenate([base, base, base, rng.normal(size=(30, 8)).astype(np.float32)])
    dist, idx = knn(x, x, 3, exclude_self=True, backend=backend, block_size=7)
    assert not (idx == np.arange(len(x))[:, None]).any()
    for i in range(10):
        assert set(idx[i, :2]) == {i + 10, i + 20}
        np.testing.assert_allclose(dist[i, :2], 0, atol=1e-3)
    exact_d, _ = brute_force(x, x, 3, exclude_self=True)
    np.testing.assert_allclose(dist, exact_d, atol=1e-3)
    # more twins than k + 1: the row is not among the results, so the last one is dropped
    many = np.repeat(base[:1], 6, axis=0)
    d6, i6 = knn(many, many, 2, exclude_self=True, backend=backend)
    assert not (i6 == np.arange(6)[:, None]).any() and np.allclose(d6, 0, atol=1e-3)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_block_boundaries_do_not_change_results(data, backend, monkeypatch):
    reference, query = data
    expected = knn(query, reference, 6, backend=backend, block_size=4096)
    # tiny blocks: 1, 7 query rows per block, and (torch) 128-column reference chunks merged
    monkeypatch.setattr(knn_module, "MAX_BLOCK_ELEMENTS", 128)
    for block in (1, 7):
        got = knn(query, reference, 6, backend=backend, block_size=block)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
    got = knn(reference, reference, 6, exclude_self=True, backend=backend, block_size=13)
    np.testing.assert_array_equal(got[1], brute_force(reference, reference, 6, exclude_self=True)[1])


def test_large_inputs_get_an_ivf_index_and_record_it():
    rng = np.random.default_rng(13)
    centres = rng.normal(size=(20, 12))
    x = (centres[rng.integers(0, 20, 6000)] + 0.3 * rng.normal(size=(6000, 12))).astype(np.float32)
    flat = KnnIndex.build(x, flat_max_rows=10_000)
    ivf = KnnIndex.build(x, flat_max_rows=5000)
    assert flat.meta["kind"] == "flat" and "nlist" not in flat.meta
    assert ivf.meta == {
        "backend": "faiss", "kind": "ivf", "n": 6000, "dim": 12, "normalize": True, "nlist": 77, "nprobe": 8,
    }  # fmt: skip
    _, exact = flat.search(x[:300], 10, exclude=np.arange(300))
    _, approx = ivf.search(x[:300], 10, exclude=np.arange(300))
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert recall > 0.9
    assert not (approx == np.arange(300)[:, None]).any()
    np.testing.assert_allclose(ivf.reconstruct([5, 4000]), l2_normalize(x[[5, 4000]]), atol=1e-6)
    assert KnnIndex.build(x, backend="torch", flat_max_rows=5000).meta["kind"] == "flat"  # exact, no faiss
    rare = np.zeros(len(x), dtype=bool)
    rare[::500] = True  # 12 allowed rows: the probed cells hold too few, so every cell is searched
    _, rows = ivf.search(x[:5], 10, allowed=rare)
    assert rare[rows].all() and (rows >= 0).all()


def test_saved_index_round_trips(tmp_path, data):
    reference, query = data
    for backend in ("faiss", "torch"):
        index = KnnIndex.build(reference, backend=backend)
        path = index.save(tmp_path / f"ref.{backend}")
        loaded = KnnIndex.load(path, index.meta)
        np.testing.assert_array_equal(loaded.search(query, 4)[1], index.search(query, 4)[1])
    assert KnnIndex.load(path, {**index.meta, "n": 5}) is None  # metadata of another index


def test_bad_requests_raise():
    x = np.ones((5, 3), np.float32)
    with pytest.raises(GalcatError, match="dimensions"):
        KnnIndex.build(x).search(np.ones((2, 4), np.float32), 1)
    with pytest.raises(GalcatError, match="only 2 references"):
        KnnIndex.build(x).search(x, 3, allowed=np.array([1, 1, 0, 0, 0], bool))
    with pytest.raises(GalcatError, match="not available"):
        KnnIndex.build(x, backend="torch", kind="ivf")
    with pytest.raises(GalcatError, match="unknown k-NN backend"):
        knn(x, x, 1, backend="annoy")
