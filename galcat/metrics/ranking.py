"""The exact "rank" engine of the retrieval metrics: relevance of each query's k nearest references.

Why not a k-NN table: only the ranks of the relevant references matter. References are sorted
by class, so a class-``c`` query's relevant items are one column range, and queries are
processed class by class. Scores come from BLAS GEMMs (``q.r`` for unit vectors, else
``q.r - |r|^2/2``: larger is nearer) over tiles of at most ``MAX_BLOCK_ELEMENTS``: many query
rows against a chunk of the (transposed, contiguous) references, which keeps the GEMM efficient
and the memory bounded. Each row keeps only the scores above a threshold: the exact k-th best
score when k is a large share of the row, else one estimated from every 16th column, plus a
margin of a few float32 steps; rows where the estimate admits fewer than k are redone exactly.
Kept items get the key ``bits(|q|^2 + 1 - 2 score) << 1 | relevant`` (squared L2 + 1 for unit
vectors: a positive float, so its bits order like it, and equal distances put non-relevant
items first); only those are sorted. Masking and sorting run on ``MAX_THREADS`` threads
(numpy releases the GIL there); numpy only.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from galcat.metrics.knn import MAX_BLOCK_ELEMENTS, rows_per_block

#: Threads masking and sorting the rows of a block (the GEMM itself is threaded by BLAS).
MAX_THREADS = 2
#: Query rows per GEMM tile when the references are processed in column chunks.
TILE_ROWS = 512
#: Every STRIDE-th column estimates the threshold when k is under a quarter of the references.
STRIDE = 16


def rank_blocks(query, reference, q_codes, r_codes, r_per_query, block_size, exclude_self, normalized):
    """Yield ``(rows, hits)``: for query ``rows`` of one class, the sorted 0-based ranks of the
    relevant references among each row's k nearest (k = R of that class, at least 10)."""
    m = len(reference)
    order = np.argsort(r_codes, kind="stable")  # same-class references become one column range
    ref_t = np.ascontiguousarray(reference[order].T)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(r_codes, minlength=q_codes.max() + 1))])
    own = np.argsort(order) if exclude_self else None  # where query row i (= reference row i) went
    shift = None if normalized else -0.5 * np.einsum("ij,ij->i", ref_t.T, ref_t.T)
    offset = np.einsum("ij,ij->i", query, query) + np.float32(1.0)
    engine = _Engine(ref_t, shift, own, offset)
    floor = min(10, m - int(exclude_self))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(min(cpus, MAX_THREADS)) as pool:
        engine.pool = pool
        for code in np.unique(q_codes[r_per_query > 0]):
            members = np.flatnonzero((q_codes == code) & (r_per_query > 0))
            k = int(max(r_per_query[members].max(), floor))
            sampled = m >= 64 * STRIDE and k * 4 < m
            step = min(block_size, TILE_ROWS) if sampled else rows_per_block(block_size, m)
            for start in range(0, len(members), step):
                rows = members[start : start + step]
                yield rows, engine.rank(rows, query[rows], bounds[code], bounds[code + 1], k, sampled)


def _margin(offset, threshold):
    """A few float32 steps of the key ``offset - 2 score`` at the threshold, in score units."""
    return 1e-6 * (np.abs(offset) + 2 * np.abs(threshold))


class _Engine:
    def __init__(self, ref_t, shift, own, offset):
        self.ref_t, self.shift, self.own, self.offset = ref_t, shift, own, offset
        self.sample_t = np.ascontiguousarray(ref_t[:, ::STRIDE])
        self.pool = None
        self.tile_buffer = np.empty(0, dtype=np.float32)  # reused: no fresh pages for every tile

    def scores(self, rows, q, c0, c1, sample=False, reuse=False):
        """Scores of ``rows`` against reference columns c0:c1 (or the sampled columns)."""
        out = None
        if reuse:
            size = len(rows) * (c1 - c0)
            if self.tile_buffer.size < size:
                self.tile_buffer = np.empty(size, dtype=np.float32)
            out = self.tile_buffer[:size].reshape(len(rows), c1 - c0)
        score = np.matmul(q, self.sample_t if sample else self.ref_t[:, c0:c1], out=out)
        if self.shift is not None:
            score += self.shift[::STRIDE] if sample else self.shift[c0:c1]
        if self.own is not None and not sample:
            hit = (self.own[rows] >= c0) & (self.own[rows] < c1)
            score[np.flatnonzero(hit), self.own[rows][hit] - c0] = -np.inf
        return score

    def rank(self, rows, q, lo, hi, k, sampled):
        m = self.ref_t.shape[1]
        offset = self.offset[rows]
        if sampled:
            sample = self.scores(rows, q, 0, 0, sample=True)
            width = sample.shape[1]  # the sample's count above the k-th best score, plus 4 sigma:
            pick = width - 1 - min(width - 1, int(k / STRIDE + 4 * np.sqrt(k / STRIDE) + 5))
            threshold = np.partition(sample, pick, axis=1)[:, pick]
            cols = max(1, MAX_BLOCK_ELEMENTS // len(rows))
            # each tile is consumed before the next one is computed, so they share one buffer
            tiles = (
                (c0, self.scores(rows, q, c0, min(c0 + cols, m), reuse=True)) for c0 in range(0, m, cols)
            )
        else:
            score = self.scores(rows, q, 0, m)
            threshold = np.partition(score, m - k, axis=1)[:, m - k]
            tiles = [(0, score)]
        cut = threshold - _margin(offset, threshold)
        halves = np.array_split(np.arange(len(rows)), min(2, len(rows)))
        pieces = [[] for _ in halves]
        for c0, tile in tiles:
            jobs = [
                self.pool.submit(_kept_keys, tile[h[0] : h[-1] + 1], cut[h], offset[h], lo - c0, hi - c0)
                for h in halves
            ]
            for piece, job in zip(pieces, jobs, strict=True):
                piece.extend(job.result())
        jobs = [
            self.pool.submit(self._hits, piece, rows[h], q[h], lo, hi, k)
            for piece, h in zip(pieces, halves, strict=True)
        ]
        return [hits for job in jobs for hits in job.result()]

    def _hits(self, pieces, rows, q, lo, hi, k):
        """Ranks of the relevant items among each row's k smallest keys, from every tile's kept keys."""
        out = []
        for i in range(len(rows)):
            keys = np.concatenate([keys[ends[i] : ends[i + 1]] for keys, ends in pieces])
            if len(keys) < k:  # the sample over-estimated the k-th best score: redo the row exactly
                score = self.scores(rows[i : i + 1], q[i : i + 1], 0, self.ref_t.shape[1])
                best = np.partition(score[0], score.shape[1] - k)[score.shape[1] - k]
                offset = self.offset[rows[i : i + 1]]
                exact = _kept_keys(score, best - _margin(offset, best), offset, lo, hi)
                keys = np.concatenate([part for part, _ in exact])
            keys.sort()
            out.append(np.flatnonzero(keys[:k] & 1))
        return out


def _kept_keys(tile, cut, offset, lo, hi) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(keys, ends)]`` per column segment: the keys of each row's scores >= its cut (row i:
    ``keys[ends[i]:ends[i+1]]``); tile columns ``lo:hi`` (clipped) are the relevant ones."""
    width = tile.shape[1]
    a, b = min(max(lo, 0), width), min(max(hi, 0), width)
    inside = tile >= cut[:, None]
    out = []
    for s0, s1, flag in ((0, a, 0), (a, b, 1), (b, width, 0)):
        if s1 <= s0:
            continue
        count = np.count_nonzero(inside[:, s0:s1], axis=1)
        keys = (np.repeat(offset, count) - 2 * tile[:, s0:s1][inside[:, s0:s1]]).view(np.uint32)
        keys <<= 1
        keys |= flag
        out.append((keys, np.concatenate([[0], np.cumsum(count)])))
    return out
