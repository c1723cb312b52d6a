"""Exact, blockwise retrieval metrics (Musgrave et al. 2020), never materialising N x N.

Why our own engine: PML's ``AccuracyCalculator`` materialises the full (n, k) neighbour table
(k = the largest class) plus several float64 copies of it, so memory grows as N^2 / classes.
Here queries are processed in blocks against all references; each block is reduced at once to
per-query metrics, so peak memory is O(block rows x max(k, n_ref)), bounded by
``galcat.metrics.knn.MAX_BLOCK_ELEMENTS``.

Distances are L2 on L2-normalised embeddings by default (the training distance,
``LpDistance(normalize_embeddings=True)``); ``normalize=False`` uses raw embeddings, which is
what the paper's PML v0.9.97 k-NN did (``faiss.IndexFlatL2`` on raw embeddings).

Backends: :func:`retrieval_metrics` uses ``"rank"`` by default, a numpy-only engine (BLAS GEMM
tiles, then only each row's nearest candidates are sorted; see :mod:`galcat.metrics.ranking`).
``"faiss"`` (IndexFlatL2, when installed) and ``"torch"`` (cdist + topk per block) go through
the one k-NN (:mod:`galcat.metrics.knn`). All give PML's numbers up to
float ties.
"""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError
from galcat.metrics.knn import as_embeddings, iter_knn_blocks, l2_normalize
from galcat.metrics.ranking import rank_blocks

#: k of the paper's "MAP@R", which was PML v0.9.97 ``mean_average_precision`` at k=10.
PAPER_K = 10
METRIC_KEYS = ("precision_at_1", "r_precision", "map_at_r", "map_at_10_v0997")


def query_metrics(hits: np.ndarray, r: int) -> tuple[float, float, float, float]:
    """(P@1, R-precision, AP@R, AP@10 v0.9.97) of one query from ``hits``: the sorted 0-based
    ranks of its relevant references among its k nearest (k >= R and >= 10 where possible)."""
    precision = np.arange(1, len(hits) + 1) / (hits + 1.0)  # the n-th hit's precision at its rank
    in_r, in_10 = hits < r, hits < PAPER_K
    ap10 = precision[in_10].sum() / max(np.count_nonzero(in_10), 1)  # v0.9.97: by hits in the top 10
    return float(len(hits) > 0 and hits[0] == 0), np.count_nonzero(in_r) / r, precision[in_r].sum() / r, ap10


def _block_metrics(rel: np.ndarray, r: np.ndarray) -> np.ndarray:
    """:func:`query_metrics` of every row of ranked relevance flags (n, k)."""
    return np.array([query_metrics(np.flatnonzero(row), ri) for row, ri in zip(rel, r, strict=True)])


def per_query_retrieval(
    query,
    query_labels,
    reference=None,
    reference_labels=None,
    ref_includes_query: bool = False,
    block_size: int = 4096,
    normalize: bool = True,
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query metric values ``(values (n,4) in METRIC_KEYS order, used mask (n,))``.

    Queries whose label has no other reference item ("lone" labels) get NaN and ``used=False``,
    as PML excludes them. With ``reference=None`` the query set is its own reference.
    """
    if reference is None:
        reference, reference_labels, ref_includes_query = query, query_labels, True
    query = as_embeddings(query, "query")
    reference = as_embeddings(reference, "reference")
    q_lab = np.asarray(query_labels).ravel()
    r_lab = np.asarray(reference_labels).ravel()
    if len(q_lab) != len(query) or len(r_lab) != len(reference):
        raise GalcatError(
            f"labels and embeddings differ in length: query {len(query)} vs {len(q_lab)} labels, "
            f"reference {len(reference)} vs {len(r_lab)} labels"
        )
    self_count = int(ref_includes_query)
    if ref_includes_query and not (
        len(reference) >= len(query)
        and np.array_equal(reference[: len(query)], query)
        and np.array_equal(r_lab[: len(q_lab)], q_lab)
    ):
        raise GalcatError("ref_includes_query: the first len(query) reference rows must equal the query")
    classes, r_codes = np.unique(r_lab, return_inverse=True)
    counts = np.bincount(r_codes, minlength=len(classes))
    pos = np.searchsorted(classes, q_lab).clip(0, max(len(classes) - 1, 0))
    known = classes[pos] == q_lab
    q_codes = np.where(known, pos, -1)
    r_per_query = np.where(known, counts[pos], 0) - self_count
    used = r_per_query > 0
    values = np.full((len(query), len(METRIC_KEYS)), np.nan)
    if not used.any():
        return values, used
    r_codes = r_codes.astype(np.int32)
    blocks = _relevance_blocks(
        query, reference, q_codes, r_codes, r_per_query, block_size, ref_includes_query, normalize, backend
    )
    from galcat.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("retrieval", total=int(used.sum()))
        for rows, block_values in blocks:
            values[rows] = block_values
            bar.advance(task, len(rows))
    return values, used


def _relevance_blocks(
    query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalize, backend
):
    """``(query rows, their metric values (n, 4))`` for every used query."""
    if backend in (None, "rank"):
        if normalize:
            query, reference = l2_normalize(query), l2_normalize(reference)
        for rows, hits in rank_blocks(
            query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalize
        ):
            yield rows, np.array([query_metrics(h, r) for h, r in zip(hits, r_per_query[rows], strict=True)])
        return
    used = r_per_query > 0
    k = int(max(r_per_query.max(), min(PAPER_K, len(reference) - int(exclude_self))))
    blocks = iter_knn_blocks(query, reference, k, block_size, exclude_self, normalize, backend)
    for start, _dist, idx in blocks:
        rows = start + np.flatnonzero(used[start : start + len(idx)])
        yield rows, _block_metrics(r_codes[idx[rows - start]] == q_codes[rows, None], r_per_query[rows])


def retrieval_metrics(
    query,
    query_labels,
    reference=None,
    reference_labels=None,
    ref_includes_query: bool = False,
    block_size: int = 4096,
    normalize: bool = True,
    backend: str | None = None,
) -> dict:
    """Mean precision_at_1, r_precision, map_at_r (k = R per query) and map_at_10_v0997.

    R = number of references with the query's label, minus 1 when the query is in the reference
    set. ``map_at_10_v0997`` is what the paper printed as "MAP@R": PML v0.9.97's
    ``mean_average_precision`` at k=10, normalised by the hits within the top 10.
    Also returns ``n_queries`` (used) and ``n_lone`` (excluded lone-label queries).
    """
    values, used = per_query_retrieval(
        query, query_labels, reference, reference_labels, ref_includes_query, block_size, normalize, backend
    )
    means = values[used].mean(axis=0) if used.any() else np.full(len(METRIC_KEYS), np.nan)
    out = {key: float(v) for key, v in zip(METRIC_KEYS, means, strict=True)}
    out["n_queries"] = int(used.sum())
    out["n_lone"] = int((~used).sum())
    return out
