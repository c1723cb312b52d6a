"""The one k-NN of galcat: L2 distance on (by default) L2-normalised vectors, searched blockwise.

:class:`KnnIndex` holds the reference vectors. With faiss installed it is a faiss index: exact
``IndexFlatL2`` below :data:`FLAT_MAX_ROWS` rows, ``IndexIVFFlat`` (approximate, probing
``nprobe`` of ``nlist`` cells) above, chosen automatically and recorded in :attr:`KnnIndex.meta`.
Without faiss it is an exact torch search. Memory stays bounded either way: vectors are added in
blocks, and queries are processed in blocks whose distance table never exceeds
:data:`MAX_BLOCK_ELEMENTS` (the torch path also splits the references), so no N x M matrix is
ever held. :func:`knn` is the exact search for arrays, used by the evaluator, the retrieval
metrics' faiss/torch backends, the saved embedding index and the catalogue's kNN columns.

Distances are Euclidean (not squared), nearest first. "Excluding self" drops a given id from
each query's k + 1 results, or the farthest one when the id is not among them (PML's rule).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from galcat.errors import GalcatError

#: Elements (rows x columns) allowed in one block's distance or neighbour table (~64 MB float32).
MAX_BLOCK_ELEMENTS = 1 << 24
#: Rows from which the automatic choice is an IVF index instead of an exact flat one.
FLAT_MAX_ROWS = 1_000_000
#: Rows normalised and added to an index at a time.
ADD_BLOCK_ROWS = 1 << 16


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Vectors along the last axis scaled to unit L2 norm (zero rows stay zero), float32 contiguous."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def as_embeddings(x, name: str) -> np.ndarray:
    """A finite, non-empty 2-D float32 array, or a :class:`GalcatError` naming ``name``."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2 or x.shape[0] == 0:
        raise GalcatError(f"{name}: expected a non-empty 2-D embedding array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise GalcatError(f"{name}: embeddings contain NaN or infinity")
    return x


def rows_per_block(block_size: int, width: int) -> int:
    """Query rows per block so that ``rows x width`` stays within :data:`MAX_BLOCK_ELEMENTS`."""
    return max(1, min(block_size, MAX_BLOCK_ELEMENTS // max(width, 1)))


def drop_ids(dist: np.ndarray, ids: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``own[i]`` from row i of k + 1 results (else the row's last, farthest one)."""
    is_own = ids == np.asarray(own)[:, None]
    is_own[~is_own.any(axis=1), -1] = True
    keep = ~is_own
    k = ids.shape[1] - 1
    return dist[keep].reshape(-1, k), ids[keep].reshape(-1, k)


def choose_kind(n: int, backend: str, flat_max_rows: int = FLAT_MAX_ROWS) -> str:
    """``"flat"`` (exact) below ``flat_max_rows`` or without faiss, else ``"ivf"``."""
    return "ivf" if backend == "faiss" and n >= flat_max_rows else "flat"


def ivf_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) for an IVF index of n rows: about sqrt(n) cells, 1/64 of them probed."""
    nlist = max(1, int(math.sqrt(n)))
    return nlist, max(8, nlist // 64)


class KnnIndex:
    """Reference vectors searchable by L2 distance; positions 0..n-1 are the result ids."""

    def __init__(self, backend: str, normalize: bool, kind: str, store, dim: int, n: int, nprobe: int = 0):
        self.backend, self.normalize, self.kind = backend, normalize, kind
        self._store = store  # a faiss index, or a torch tensor (n, dim)
        self.dim, self.n, self.nprobe = dim, n, nprobe

    def __len__(self) -> int:
        return self.n

    @property
    def meta(self) -> dict:
        """What was built: backend, kind (flat/ivf), size, and the IVF parameters when used."""
        meta = {"backend": self.backend, "kind": self.kind, "n": self.n, "dim": self.dim}
        meta["normalize"] = self.normalize
        if self.kind == "ivf":
            meta.update(nlist=int(self._store.nlist), nprobe=self.nprobe)
        return meta

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        vectors,
        normalize: bool = True,
        backend: str | None = None,
        kind: str = "auto",
        flat_max_rows: int = FLAT_MAX_ROWS,
        seed: int = 0,
    ) -> KnnIndex:
        """Index ``vectors`` (any (n, D) array, memory-mapped too), adding them in blocks."""
        n, dim = np.shape(vectors)
        if n == 0:
            raise GalcatError("cannot index 0 vectors")
        backend = backend or ("faiss" if faiss_available() else "torch")
        if backend not in ("faiss", "torch"):
            raise GalcatError(f"unknown k-NN backend {backend!r} (use 'faiss' or 'torch')")
        kind = choose_kind(n, backend, flat_max_rows) if kind == "auto" else kind
        if kind not in ("flat", "ivf") or (kind == "ivf" and backend != "faiss"):
            raise GalcatError(f"index kind {kind!r} is not available with backend {backend!r}")
        blocks = (_prepare(vectors[s : s + ADD_BLOCK_ROWS], normalize) for s in range(0, n, ADD_BLOCK_ROWS))
        if backend == "torch":
            import torch

            store = torch.empty((n, dim), dtype=torch.float32)
            for start, block in zip(range(0, n, ADD_BLOCK_ROWS), blocks, strict=True):
                store[start : start + len(block)] = torch.from_numpy(block)
            return cls("torch", normalize, "flat", store, dim, n)
        import faiss

        nprobe = 0
        if kind == "ivf":
            nlist, nprobe = ivf_params(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
            sample = np.sort(np.random.default_rng(seed).choice(n, min(n, 40 * nlist), replace=False))
            index.train(_prepare(vectors[sample], normalize))
            index.nprobe = nprobe
        else:
            index = faiss.IndexFlatL2(dim)
        for block in blocks:
            index.add(block)
        if kind == "ivf":
            index.make_direct_map()  # reconstruct() by position
        return cls("faiss", normalize, kind, index, dim, n, nprobe)

    def reconstruct(self, positions) -> np.ndarray:
        """The stored (normalised) vectors at ``positions``, float32 (m, dim)."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.backend == "torch":
            return self._store[positions].numpy()
        return self._store.reconstruct_batch(positions)

    # ------------------------------------------------------------------ searching
    def iter_search(
        self, query, k: int, exclude=None, allowed=None, block_size: int = 4096
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(first_row, distances (b,k), positions (b,k))`` per block of query rows.

        ``exclude[i]`` (a position, or -1) is never returned for query i; ``allowed`` (bool (n,))
        restricts the search to those positions.
        """
        query = as_embeddings(query, "query")
        if query.shape[1] != self.dim:
            raise GalcatError(f"query has {query.shape[1]} dimensions but the reference has {self.dim}")
        available = self.n if allowed is None else int(np.count_nonzero(allowed))
        available -= int(exclude is not None)
        if not 1 <= k <= available:
            raise GalcatError(f"k={k} neighbours requested but only {available} references are available")
        want = k + int(exclude is not None)
        search = self._faiss_search if self.backend == "faiss" else self._torch_search
        rows = rows_per_block(block_size, want if self.backend == "faiss" else self.n)
        for start in range(0, len(query), rows):
            dist, pos = search(_prepare(query[start : start + rows], self.normalize), want, allowed)
            if exclude is not None:
                dist, pos = drop_ids(dist, pos, np.asarray(exclude)[start : start + len(pos)])
            yield start, dist, pos

    def search(self, query, k: int, exclude=None, allowed=None, block_size: int = 4096):
        """``(distances float32 (n,k), positions int64 (n,k))``, nearest first; see :meth:`iter_search`."""
        n = len(query)
        dists = np.empty((n, k), dtype=np.float32)
        positions = np.empty((n, k), dtype=np.int64)
        for start, dist, pos in self.iter_search(query, k, exclude, allowed, block_size):
            dists[start : start + len(pos)] = dist
            positions[start : start + len(pos)] = pos
        return dists, positions

    def _faiss_search(self, q: np.ndarray, k: int, allowed):
        import faiss

        params_cls = faiss.SearchParametersIVF if self.kind == "ivf" else faiss.SearchParameters
        kwargs = {"nprobe": self.nprobe} if self.kind == "ivf" else {}
        if allowed is not None:
            bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            kwargs["sel"] = faiss.IDSelectorBitmap(self.n, faiss.swig_ptr(bits))
        params = params_cls(**kwargs) if kwargs else None
        sq, pos = _faiss_raw_search(self._store, q, k, params)
        short = (pos < 0).any(axis=1)
        if short.any():  # the probed IVF cells held fewer than k candidates: probe them all
            params = faiss.SearchParametersIVF(**{**kwargs, "nprobe": int(self._store.nlist)})
            sq[short], pos[short] = _faiss_raw_search(self._store, q[short], k, params)
        return np.sqrt(np.maximum(sq, 0.0, out=sq), out=sq), pos

    def _torch_search(self, q: np.ndarray, k: int, allowed):
        import torch

        with torch.inference_mode():
            q = torch.from_numpy(q)
            cols = max(k, MAX_BLOCK_ELEMENTS // len(q))
            best_d = best_i = None
            for c0 in range(0, self.n, cols):
                d = torch.cdist(q, self._store[c0 : c0 + cols], p=2)
                if allowed is not None:
                    d[:, ~torch.from_numpy(np.asarray(allowed[c0 : c0 + cols], dtype=bool))] = torch.inf
                d, i = torch.topk(d, min(k, d.shape[1]), dim=1, largest=False, sorted=True)
                i += c0
                if best_d is not None:  # merge with the best of the earlier reference chunks
                    d, i = torch.cat([best_d, d], 1), torch.cat([best_i, i], 1)
                    d, order = torch.topk(d, k, dim=1, largest=False, sorted=True)
                    i = torch.gather(i, 1, order)
                best_d, best_i = d, i
            return best_d.numpy(), best_i.numpy()

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the index to ``path`` (faiss's format, or .npy for torch); returns the file."""
        from galcat.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            if self.backend == "faiss":
                import faiss

                faiss.write_index(self._store, str(tmp))
            else:
                with open(tmp, "wb") as fh:
                    np.save(fh, self._store.numpy())
        return path

    @classmethod
    def load(cls, path, meta: dict) -> KnnIndex | None:
        """The index saved at ``path`` with :attr:`meta`, or None when this machine cannot read it."""
        if meta.get("backend") == "faiss":
            if not faiss_available():
                return None
            import faiss

            store = faiss.read_index(str(path))
            kind, nprobe = "flat", 0
            if isinstance(store, faiss.IndexIVF):
                kind, nprobe = "ivf", int(meta.get("nprobe") or store.nprobe)
                store.make_direct_map()
            normalize = bool(meta.get("normalize", True))
            index = cls("faiss", normalize, kind, store, store.d, store.ntotal, nprobe)
        else:  # saved by the torch fallback: already normalised; re-index with what is here now
            vectors = np.load(path, mmap_mode="r")
            index = cls.build(vectors, normalize=False)
            index.normalize = bool(meta.get("normalize", True))
        if index.n != meta.get("n") or index.dim != meta.get("dim"):
            return None
        return index


def _faiss_raw_search(index, q: np.ndarray, k: int, params) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` through the C entry point: pytorch-metric-learning replaces faiss's
    Python ``search`` with a torch-aware one that takes no search parameters."""
    import faiss

    q = np.ascontiguousarray(q, dtype=np.float32)
    sq = np.empty((len(q), k), dtype=np.float32)
    pos = np.empty((len(q), k), dtype=np.int64)
    index.search_c(len(q), faiss.swig_ptr(q), k, faiss.swig_ptr(sq), faiss.swig_ptr(pos), params)
    return sq, pos


def _prepare(x, normalize: bool) -> np.ndarray:
    return l2_normalize(x) if normalize else np.ascontiguousarray(x, dtype=np.float32)


def _exact(query, reference, exclude_self, normalize, backend):
    """A flat (exact) index of ``reference``, the checked query, and the ids each query excludes."""
    query = as_embeddings(query, "query")
    reference = as_embeddings(reference, "reference")
    index = KnnIndex.build(reference, normalize=normalize, backend=backend, kind="flat")
    return index, query, (np.arange(len(query)) if exclude_self else None)


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
    index, query, exclude = _exact(query, reference, exclude_self, normalize, backend)
    yield from index.iter_search(query, k, exclude=exclude, block_size=block_size)


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
    index, query, exclude = _exact(query, reference, exclude_self, normalize, backend)
    return index.search(query, k, exclude=exclude, block_size=block_size)
