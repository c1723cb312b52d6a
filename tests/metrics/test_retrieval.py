"""The blockwise retrieval engine against pytorch-metric-learning's AccuracyCalculator."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN, FaissKNN

from galcat.errors import GalcatError
from galcat.metrics.knn import knn, l2_normalize
from galcat.metrics.retrieval import per_query_retrieval, retrieval_metrics

INCLUDE = ("precision_at_1", "r_precision", "mean_average_precision_at_r")
PML_TO_GALCAT = {
    "precision_at_1": "precision_at_1",
    "r_precision": "r_precision",
    "mean_average_precision_at_r": "map_at_r",
}


def pml(query, query_labels, reference=None, reference_labels=None, knn_kind="torch", k="max_bin_count"):
    """PML 2.x on L2-normalised embeddings (CustomKNN normalises itself; FaissKNN gets them normalised)."""
    if knn_kind == "faiss":
        knn_func = FaissKNN()
        query = l2_normalize(query)
        reference = None if reference is None else l2_normalize(reference)
    else:
        knn_func = CustomKNN(LpDistance(normalize_embeddings=True))
    calc = AccuracyCalculator(include=INCLUDE, k=k, knn_func=knn_func, device=torch.device("cpu"))
    return calc.get_accuracy(
        query=query, query_labels=query_labels, reference=reference, reference_labels=reference_labels
    )


def assert_matches_pml(ours: dict, theirs: dict, tol: float = 1e-6) -> None:
    for pml_key, key in PML_TO_GALCAT.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=tol), key


def clustered(rng, n, d=16, n_classes=9, spread=1.0):
    labels = rng.integers(0, n_classes, n)
    centres = rng.normal(size=(n_classes, d))
    return (centres[labels] + spread * rng.normal(size=(n, d))).astype(np.float32), labels


@pytest.mark.parametrize("backend", ["rank", "faiss", "torch"])
def test_same_source_matches_pml(backend):
    x, y = clustered(np.random.default_rng(1), 1500)
    ours = retrieval_metrics(x, y, backend=backend, block_size=256)
    assert_matches_pml(ours, pml(x, y, knn_kind="faiss" if backend == "faiss" else "torch"))
    assert ours["n_queries"] == 1500 and ours["n_lone"] == 0
    assert 0.2 < ours["map_at_r"] < ours["r_precision"] < ours["precision_at_1"] <= 1.0


@pytest.mark.parametrize("backend", ["rank", "faiss"])
def test_separate_query_and_reference_with_lone_labels_matches_pml(backend):
    rng = np.random.default_rng(2)
    ref, ref_y = clustered(rng, 1200, n_classes=6)
    query, query_y = clustered(rng, 400, n_classes=8)  # labels 6 and 7 are absent from the reference
    ours = retrieval_metrics(query, query_y, ref, ref_y, backend=backend, block_size=100)
    assert_matches_pml(ours, pml(query, query_y, ref, ref_y, knn_kind="faiss"))
    assert ours["n_lone"] == int(np.isin(query_y, [6, 7]).sum()) > 0


def test_sampled_threshold_fallback_is_exact():
    """Every 8th reference sits next to the queries, so the strided sample underestimates the k-th
    distance and the exact partition fallback must take over."""
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(1024, 8)).astype(np.float32) * 5
    ref[::8] = rng.normal(size=(128, 8)).astype(np.float32) * 0.1 + 1.0
    ref_y = np.arange(1024) % 8 // 1  # 8 classes of 128 -> k = 128 (< 1024 / 4, so sampling is used)
    ref_y = rng.permutation(ref_y)
    query = (rng.normal(size=(50, 8)) * 0.1 + 1.0).astype(np.float32)
    query_y = rng.integers(0, 8, 50)
    ours = retrieval_metrics(query, query_y, ref, ref_y, block_size=16)
    assert_matches_pml(ours, pml(query, query_y, ref, ref_y))


def test_block_size_does_not_change_results():
    x, y = clustered(np.random.default_rng(4), 700)
    values_big, used = per_query_retrieval(x, y, block_size=4096)
    values_small, _ = per_query_retrieval(x, y, block_size=7)
    assert used.all()
    np.testing.assert_allclose(values_small, values_big, rtol=0, atol=1e-12)


def _map_at_10_v0997(query, query_labels, reference, reference_labels):
    """PML v0.9.97 ``mean_average_precision`` with k=10, same_source=False (the paper's call),
    written from its source: AP over the top 10 divided by the hits in the top 10 (0 when none)."""
    _, idx = FaissKNN()(torch.from_numpy(query), 10, torch.from_numpy(reference), False)
    rel = reference_labels[idx.numpy()] == query_labels[:, None]
    hits = np.cumsum(rel, axis=1)
    precision = hits * rel / np.arange(1, 11)
    ap = precision.sum(axis=1) / np.maximum(rel.sum(axis=1), 1)
    present = np.isin(query_labels, reference_labels)
    return ap[present].mean()


@pytest.mark.parametrize("backend", ["rank", "faiss"])
def test_map_at_10_v0997_reproduces_the_paper_metric(backend):
    rng = np.random.default_rng(5)
    ref, ref_y = clustered(rng, 900, spread=2.0)
    query, query_y = clustered(rng, 300, spread=2.0)
    ours = retrieval_metrics(query, query_y, ref, ref_y, backend=backend)
    expected = _map_at_10_v0997(l2_normalize(query), query_y, l2_normalize(ref), ref_y)
    assert ours["map_at_10_v0997"] == pytest.approx(expected, abs=1e-9)
    # it is not MAP@R: normalised by hits within 10, it is far larger with 100-member classes
    assert ours["map_at_10_v0997"] > ours["map_at_r"] + 0.1


def test_raw_embeddings_differ_from_normalised():
    rng = np.random.default_rng(6)
    x, y = clustered(rng, 300, d=4, n_classes=3)
    x *= rng.uniform(0.1, 10, size=(300, 1)).astype(np.float32)  # norms carry no class signal
    raw = retrieval_metrics(x, y, normalize=False)
    _, idx = knn(x, x, 1, exclude_self=True, normalize=False)
    assert raw["precision_at_1"] == pytest.approx(np.mean(y[idx[:, 0]] == y))
    assert raw != retrieval_metrics(x, y)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_knn_is_exact_and_excludes_self(backend):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    dist, idx = knn(x, x, 4, block_size=64, exclude_self=True, backend=backend)
    xn = l2_normalize(x)
    full = np.linalg.norm(xn[:, None, :] - xn[None, :, :], axis=2)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4], atol=1e-5)
    assert not (idx == np.arange(300)[:, None]).any()


def test_bad_inputs_raise_galcat_error():
    x = np.ones((5, 3), np.float32)
    with pytest.raises(GalcatError, match="dimensions"):
        knn(x, np.ones((5, 4), np.float32), 2)
    with pytest.raises(GalcatError, match="only 4 references"):
        knn(x, x, 5, exclude_self=True)
    with pytest.raises(GalcatError, match="differ in length"):
        retrieval_metrics(x, [0, 1])
    with pytest.raises(GalcatError, match="NaN"):
        retrieval_metrics(np.full((3, 2), np.nan), [0, 0, 1])
    with pytest.raises(GalcatError, match="non-empty"):
        retrieval_metrics(np.zeros((0, 3)), [])
    lone = retrieval_metrics(x, [0, 1, 2, 3, 4])  # every label appears once: nothing to retrieve
    assert lone["n_queries"] == 0 and lone["n_lone"] == 5 and np.isnan(lone["map_at_r"])


def _gz1_pixel_embeddings(root, n=360, size=20, dims=24):
    """PCA of real Galaxy Zoo 1 pixels: a real, clustered, tie-prone embedding."""
    from PIL import Image

    with open(root / "gz1" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    pixels, labels = [], []
    for row in rows:
        with Image.open(root / "gz1" / "images" / f"{row['OBJID']}.jpeg") as img:
            img.draft("RGB", (size * 4, size * 4))
            pixels.append(np.asarray(img.convert("RGB").resize((size, size)), np.float32).ravel())
        labels.append(int(row["CLASS"]))
    x = np.stack(pixels)
    x -= x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return (u[:, :dims] * s[:dims]).astype(np.float32), np.array(labels)


def test_real_gz1_embeddings_match_pml(shared_data):
    x, y = _gz1_pixel_embeddings(shared_data)
    assert len(np.unique(y)) >= 3
    assert_matches_pml(retrieval_metrics(x, y, block_size=100), pml(x, y))
    query, ref = x[:120], x[120:]
    ours = retrieval_metrics(query, y[:120], ref, y[120:], backend="faiss")
    assert_matches_pml(ours, pml(query, y[:120], ref, y[120:], knn_kind="faiss"))


def test_reference_chunks_and_tile_rows_do_not_change_results(monkeypatch):
    """References split into many column chunks (self-exclusion and the relevant range crossing
    chunk edges) give the values of one chunk, and PML's."""
    import galcat.metrics.ranking as ranking

    x, y = clustered(np.random.default_rng(8), 1100)
    whole, used = per_query_retrieval(x, y)
    monkeypatch.setattr(ranking, "MAX_BLOCK_ELEMENTS", 3000)
    monkeypatch.setattr(ranking, "TILE_ROWS", 23)
    chunked, _ = per_query_retrieval(x, y, block_size=50)
    assert used.all()
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)
    assert_matches_pml(retrieval_metrics(x, y, block_size=50), pml(x, y))
