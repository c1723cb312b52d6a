"""Exact, blockwise retrieval metrics (Musgrave et al. 2020) and k-NN, never materialising N x N.

Why our own engine: PML's ``AccuracyCalculator`` materialises the full (n, k) neighbour table
(k = the largest class) plus several float64 copies of it, so memory grows as N^2 / classes.
Here queries are processed in blocks against all references; each block is reduced at once to
per-query metrics, so peak memory is O(block rows x max(k, n_ref)), bounded by
``MAX_BLOCK_ELEMENTS``.

Distances are L2 on L2-normalised embeddings by default (the training distance,
``LpDistance(normalize_embeddings=True)``); ``normalize=False`` uses raw embeddings, which is
what the paper's PML v0.9.97 k-NN did (``faiss.IndexFlatL2`` on raw embeddings).

Backends: :func:`retrieval_metrics` uses ``"rank"`` by default, a numpy-only engine (one BLAS
GEMM per block, then only each row's nearest candidates are sorted; see :func:`_rank_blocks`).
``"faiss"`` (IndexFlatL2, when installed) and ``"torch"`` (cdist + topk per block) go through
:func:`knn`, whose own default is faiss when installed, else torch. All give PML's numbers up to
float ties.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from galcat.errors import GalcatError

#: Elements (rows x columns) allowed in one block's distance or neighbour table (~64 MB float32).
MAX_BLOCK_ELEMENTS = 1 << 24
#: k of the paper's "MAP@R", which was PML v0.9.97 ``mean_average_precision`` at k=10.
PAPER_K = 10
METRIC_KEYS = ("precision_at_1", "r_precision", "map_at_r", "map_at_10_v0997")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _as_embeddings(x, name: str) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2 or x.shape[0] == 0:
        raise GalcatError(f"{name}: expected a non-empty 2-D embedding array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise GalcatError(f"{name}: embeddings contain NaN or infinity")
    return x


def _rows_per_block(block_size: int, width: int) -> int:
    return max(1, min(block_size, MAX_BLOCK_ELEMENTS // max(width, 1)))


def _drop_self(dist: np.ndarray, idx: np.ndarray, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own index from k+1 neighbours (else the last one), as PML does."""
    own = np.arange(first_row, first_row + len(idx))[:, None]
    is_self = idx == own
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    k = idx.shape[1] - 1
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def iter_knn_blocks(
    query,
    reference,
    k: int,
    block_size: int = 4096,
    exclude_self: bool = False,
    normalize: bool = True,
    backend: str | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(first_row, distances, indices)`` for consecutive query blocks, nearest first.

    ``exclude_self`` means query row i is reference row i and must not retrieve itself.
    """
    query = _as_embeddings(query, "query")
    reference = _as_embeddings(reference, "reference")
    if query.shape[1] != reference.shape[1]:
        raise GalcatError(f"query has {query.shape[1]} dimensions but reference has {reference.shape[1]}")
    available = len(reference) - int(exclude_self)
    if not 1 <= k <= available:
        raise GalcatError(f"k={k} neighbours requested but only {available} references are available")
    backend = backend or ("faiss" if faiss_available() else "torch")
    search_k = k + int(exclude_self)
    if backend == "faiss":
        yield from _faiss_blocks(query, reference, search_k, block_size, exclude_self, normalize)
    elif backend == "torch":
        yield from _torch_blocks(query, reference, search_k, block_size, exclude_self, normalize)
    else:
        raise GalcatError(f"unknown k-NN backend {backend!r} (use 'faiss' or 'torch')")


def _faiss_blocks(query, reference, search_k, block_size, exclude_self, normalize):
    import faiss

    if normalize:
        query, reference = l2_normalize(query), l2_normalize(reference)
    index = faiss.IndexFlatL2(reference.shape[1])
    index.add(reference)
    rows = _rows_per_block(block_size, search_k)
    for start in range(0, len(query), rows):
        dist, idx = index.search(query[start : start + rows], search_k)
        dist = np.sqrt(np.maximum(dist, 0.0, out=dist), out=dist)
        if exclude_self:
            dist, idx = _drop_self(dist, idx, start)
        yield start, dist, idx


def _torch_blocks(query, reference, search_k, block_size, exclude_self, normalize):
    import torch

    with torch.inference_mode():
        ref = torch.from_numpy(reference)
        q_all = torch.from_numpy(query)
        if normalize:
            ref = torch.nn.functional.normalize(ref, p=2, dim=1)
            q_all = torch.nn.functional.normalize(q_all, p=2, dim=1)
        rows = _rows_per_block(block_size, max(len(reference), search_k))
        for start in range(0, len(query), rows):
            mat = torch.cdist(q_all[start : start + rows], ref, p=2)
            dist, idx = torch.topk(mat, search_k, dim=1, largest=False, sorted=True)
            del mat
            dist, idx = dist.numpy(), idx.numpy()
            if exclude_self:
                dist, idx = _drop_self(dist, idx, start)
            yield start, dist, idx


def knn(
    query,
    reference,
    k: int,
    block_size: int = 4096,
    exclude_self: bool = False,
    normalize: bool = True,
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest references of every query: ``(distances float32 (n,k), indices int64 (n,k))``."""
    n = len(query)
    dists = np.empty((n, k), dtype=np.float32)
    idxs = np.empty((n, k), dtype=np.int64)
    for start, dist, idx in iter_knn_blocks(
        query, reference, k, block_size, exclude_self, normalize, backend
    ):
        dists[start : start + len(idx)] = dist
        idxs[start : start + len(idx)] = idx
    return dists, idxs


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
    rows = _rows_per_block(block_size, m)
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
    query = _as_embeddings(query, "query")
    reference = _as_embeddings(reference, "reference")
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
    set. ``map_at_10_v0997`` is what the paper printed as "MAP@R" (domain.md §2.6, §5.2).
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
