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


def _rank_blocks(query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalized):
    """Yield ``(rows, rel)``: for query ``rows`` of one class, whether each of their k nearest
    references (k = R of that class, at least 10) shares the label, nearest first.

    Why not a k-NN table: only the ranks of the relevant references matter. References are
    sorted by class, so a class-``c`` query's relevant items are one column range, and queries
    are processed class by class. One GEMM gives the scores (``q.r`` for unit vectors, else
    ``q.r - |r|^2/2``: larger is nearer). Each row keeps only the scores above a threshold
    estimated from a strided sample of the columns (an exact partition when the sample
    over-estimates it, plus a margin of a few float32 steps) and sorts only those, by the
    distance key ``|q|^2 + 1 - 2 score`` (squared L2 + 1 for unit vectors, always positive),
    ties putting non-relevant first (see :func:`_rank_rows`). Every pass over a whole block is
    one GEMM, one comparison and one extraction; the sort is O(k) per row. numpy only.
    """
    m = len(reference)
    order = np.argsort(r_codes, kind="stable")  # same-class references become one column range
    reference = reference[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(r_codes, minlength=q_codes.max() + 1))])
    own_column = np.argsort(order)  # where query row i (= reference row i) went
    half_sq = None if normalized else 0.5 * np.einsum("ij,ij->i", reference, reference)
    q_offset = np.einsum("ij,ij->i", query, query) + np.float32(1.0)
    rows_step = rows_per_block(block_size, m)
    floor = min(PAPER_K, m - int(exclude_self))
    for code in np.unique(q_codes[r_per_query > 0]):
        lo, hi = bounds[code], bounds[code + 1]
        members = np.flatnonzero((q_codes == code) & (r_per_query > 0))
        k = int(max(r_per_query[members].max(), floor))
        stride = 16 if m >= 64 * 16 and k * 4 < m else 1
        width = -(-m // stride)
        # the sample's expected count above the k-th best score, plus 4 standard deviations
        sample_k = min(width - 1, int(np.ceil(k / stride + 4 * np.sqrt(k / stride) + 4)))
        for start in range(0, len(members), rows_step):
            rows = members[start : start + rows_step]
            score = query[rows] @ reference.T
            if half_sq is not None:
                score -= half_sq
            if exclude_self:
                score[np.arange(len(rows)), own_column[rows]] = -np.inf
            if stride == 1:
                threshold = np.partition(score, m - k, axis=1)[:, m - k]
            else:
                pick = width - 1 - sample_k
                threshold = np.partition(score[:, ::stride], pick, axis=1)[:, pick]
            yield rows, _rank_rows(score, threshold, q_offset[rows], lo, hi, k)


def _rank_rows(score, threshold, offset, lo, hi, k) -> np.ndarray:
    """Relevance flags (n, k) of each row's k best scores; columns ``lo:hi`` are the relevant ones.

    Kept items get the key ``bits(offset - 2 score) << 1 | relevant``: the float is positive, so
    its bits order like it, and equal distances put non-relevant items first.
    """
    m = score.shape[1]
    cut = threshold - 1e-6 * (np.abs(offset) + 2 * np.abs(threshold))
    inside = score >= cut[:, None]
    short = np.flatnonzero(np.count_nonzero(inside, axis=1) < k)
    for i in short:  # the sample over-estimated the k-th best score: exact partition
        best = np.partition(score[i], m - k)[m - k]
        inside[i] = score[i] >= best - 1e-6 * (abs(offset[i]) + 2 * abs(best))
    parts = []
    for a, b, flag in ((lo, hi, 1), (0, lo, 0), (hi, m, 0)):
        mask = inside[:, a:b]
        counts = np.count_nonzero(mask, axis=1)
        kept = score[:, a:b][mask]
        keys = (np.repeat(offset, counts) - 2 * kept).view(np.uint32)
        keys <<= 1
        keys |= flag
        parts.append((keys, np.concatenate([[0], np.cumsum(counts)])))
    rel = np.empty((len(score), k), dtype=bool)
    for i in range(len(score)):
        row = np.concatenate([keys[ends[i] : ends[i + 1]] for keys, ends in parts])
        row.sort()
        np.bitwise_and(row[:k], 1, out=rel[i], casting="unsafe")
    return rel


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
        for rows, rel in blocks:
            values[rows] = _block_metrics(rel, r_per_query[rows])
            bar.advance(task, len(rows))
    return values, used


def _relevance_blocks(
    query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalize, backend
):
    """``(query rows, relevance flags of their k nearest references)`` for every used query."""
    if backend in (None, "rank"):
        if normalize:
            query, reference = l2_normalize(query), l2_normalize(reference)
        yield from _rank_blocks(
            query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalize
        )
        return
    used = r_per_query > 0
    k = int(max(r_per_query.max(), min(PAPER_K, len(reference) - int(exclude_self))))
    blocks = iter_knn_blocks(query, reference, k, block_size, exclude_self, normalize, backend)
    for start, _dist, idx in blocks:
        rows = start + np.flatnonzero(used[start : start + len(idx)])
        yield rows, r_codes[idx[rows - start]] == q_codes[rows, None]


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
