"""Exact, blockwise retrieval metrics (Musgrave et al. 2020), never materialising N x N.

Why our own engine: PML's ``AccuracyCalculator`` materialises the full (n, k) neighbour table
(k = the largest class) plus several float64 copies of it, so memory grows as N^2 / classes.
Here queries are processed in blocks against all references; each block is reduced at once to
per-query metrics, so peak memory is O(block rows x max(k, n_ref)), bounded by
``galcat.metrics.knn.MAX_BLOCK_ELEMENTS``.

Distances are L2 on L2-normalised embeddings by default (the training distance,
``LpDistance(normalize_embeddings=True)``); ``normalize=False`` uses raw embeddings, which is
what the paper's PML v0.9.97 k-NN did (``faiss.IndexFlatL2`` on raw embeddings).

Backends: :func:`retrieval_metrics` uses ``"rank"`` by default, a numpy-only engine (one BLAS
GEMM per block, then only each row's nearest candidates are sorted; see :func:`_rank_blocks`).
``"faiss"`` (IndexFlatL2, when installed) and ``"torch"`` (cdist + topk per block) go through
the one k-NN (:mod:`galcat.metrics.knn`). All give PML's numbers up to
float ties.
"""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError
from galcat.metrics.knn import as_embeddings, iter_knn_blocks, l2_normalize, rows_per_block

#: k of the paper's "MAP@R", which was PML v0.9.97 ``mean_average_precision`` at k=10.
PAPER_K = 10
METRIC_KEYS = ("precision_at_1", "r_precision", "map_at_r", "map_at_10_v0997")


def _block_metrics(rel: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per-query (P@1, R-precision, AP@R, AP@10 v0.9.97) from ranked relevance flags (n, k)."""
    k = rel.shape[1]
    ranks = np.arange(1, k + 1, dtype=np.float64)
    rel_r = rel & (ranks[None, :] <= r[:, None])
    hits_r = np.cumsum(rel_r, axis=1, dtype=np.int32)
    ap_r = np.where(rel_r, hits_r / ranks, 0.0).sum(axis=1) / r
    r_prec = hits_r[:, -1] / r
    rel10 = rel[:, :PAPER_K]
    hits10 = np.cumsum(rel10, axis=1, dtype=np.int32)
    ap10 = np.where(rel10, hits10 / ranks[: rel10.shape[1]], 0.0).sum(axis=1)
    ap10 /= np.maximum(hits10[:, -1], 1)  # v0.9.97: normalised by hits in the top 10, not by R
    return np.stack([rel[:, 0].astype(np.float64), r_prec, ap_r, ap10], axis=1)


def _sq_distances(q: np.ndarray, ref: np.ndarray, ref_sq: np.ndarray) -> np.ndarray:
    """Squared L2 as faiss computes it (|q|^2 + |r|^2 - 2 q.r via one GEMM), clipped at 0."""
    d = q @ ref.T
    d *= -2.0
    d += ref_sq[None, :]
    d += np.einsum("ij,ij->i", q, q)[:, None]
    return np.maximum(d, 0.0, out=d)


def _rank_blocks(query, reference, q_codes, r_codes, k, block_size, exclude_self):
    """Yield ``(first_row, rel)``: relevance flags of each query's k nearest references, in order.

    Why not a k-NN table: only whether each ranked neighbour shares the label matters. Squared
    distances are >= 0, so their float32 bits order like the floats and ``bits << 1 | relevant``
    fits a uint32 key that sorts by distance, ties putting non-relevant first (exact, no
    rounding). Each row keeps the keys under a threshold estimated from a strided sample of the
    columns (rows whose threshold admits fewer than k fall back to an exact partition), and only
    those few are sorted. numpy only (BLAS GEMM), so this path does not even import torch.
    """
    m = len(reference)
    order = np.argsort(r_codes, kind="stable")  # same-class references become one column range
    reference = reference[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(r_codes, minlength=q_codes.max() + 1))])
    own_column = np.argsort(order)  # where query row i (= reference row i) went
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    stride = 8 if m >= 64 * 8 and k * 4 < m else 1
    sample_k = min(-(-m // stride) - 1, int(np.ceil(k / stride * 1.1 + 3 * np.sqrt(k / stride) + 4)))
    if stride == 1:
        sample_k = k - 1
    rows = rows_per_block(block_size, m)
    for start in range(0, len(query), rows):
        d = _sq_distances(query[start : start + rows], reference, ref_sq)
        n = len(d)
        if exclude_self:
            d[np.arange(n), own_column[start : start + n]] = np.inf
        keys = d.view(np.uint32)
        keys <<= 1
        for i, code in enumerate(q_codes[start : start + n]):
            if code >= 0:
                keys[i, bounds[code] : bounds[code + 1]] |= 1
        threshold = np.partition(keys[:, ::stride], sample_k, axis=1)[:, sample_k] | 1
        inside = keys <= threshold[:, None]
        counts = inside.sum(axis=1)
        for i in np.flatnonzero(counts < k):  # the sample under-estimated the k-th distance
            inside[i] = keys[i] <= (np.partition(keys[i], k - 1)[k - 1] | 1)
            counts[i] = np.count_nonzero(inside[i])
        kept = np.compress(inside.ravel(), keys.ravel())
        ends = np.cumsum(counts)
        rel = np.empty((n, k), dtype=bool)
        for i in range(n):
            row = kept[ends[i] - counts[i] : ends[i]]
            row.sort()
            np.bitwise_and(row[:k], 1, out=rel[i], casting="unsafe")
        yield start, rel


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
    k = int(max(r_per_query.max(), min(PAPER_K, len(reference) - self_count)))
    r_codes = r_codes.astype(np.int32)
    blocks = _relevance_blocks(
        query, reference, q_codes, r_codes, k, block_size, ref_includes_query, normalize, backend
    )
    from galcat.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("retrieval", total=len(query))
        for start, rel in blocks:
            stop = start + len(rel)
            sel = used[start:stop]
            if sel.any():
                values[start:stop][sel] = _block_metrics(rel[sel], r_per_query[start:stop][sel])
            bar.update(task, completed=stop)
    return values, used


def _relevance_blocks(query, reference, q_codes, r_codes, k, block_size, exclude_self, normalize, backend):
    if backend in (None, "rank"):
        if normalize:
            query, reference = l2_normalize(query), l2_normalize(reference)
        yield from _rank_blocks(query, reference, q_codes, r_codes, k, block_size, exclude_self)
        return
    for start, _dist, idx in iter_knn_blocks(
        query, reference, k, block_size, exclude_self, normalize, backend
    ):
        yield start, r_codes[idx] == q_codes[start : start + len(idx), None]


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
