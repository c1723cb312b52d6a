"""A saved embedding index of a store, so that repeated neighbour queries skip the network.

One :class:`EmbeddingIndex` serves ``galcat neighbours`` and the kNN columns of ``galcat embed``:
a :class:`galcat.metrics.knn.KnnIndex` (faiss flat below 10^6 rows, IVF above, or the exact
torch search without faiss; the choice is recorded in the metadata) plus the store rows of its
entries. Files, for store ``R.h5`` and a run/fold key ``<key>``: ``R.h5.<key>.index`` (faiss) or
``R.h5.<key>.npy`` (torch), ``R.h5.<key>.ids.npy`` (store rows) and ``R.h5.<key>.json``
(metadata: store fingerprint, model hash, backend, kind, size; written last, so a half-written
index is ignored). They go beside the store; where its folder is not writable, under
``cache_dir("index")`` (``$GALCAT_CACHE_DIR/index``) instead, and where neither is, the index is
only used in memory. The index is rebuilt when the store fingerprint or the model weights change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_path, atomic_write
from galcat.errors import GalcatError
from galcat.metrics.knn import FLAT_MAX_ROWS, KnnIndex


def index_key(run_dir, fold: int) -> str:
    """Short key naming the index files of one run's fold."""
    text = f"{Path(run_dir).resolve()}|fold={fold}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def index_locations(store_path, key: str) -> list[Path]:
    """Where the index files of ``store_path`` may live: beside it, then in the user cache."""
    from galcat.net.cache import cache_dir

    store_path = Path(store_path)
    tag = hashlib.sha256(str(store_path.resolve()).encode()).hexdigest()[:12]
    return [store_path.parent, cache_dir("index") / tag]


def _paths(folder: Path, store_name: str, key: str) -> dict[str, Path]:
    base = f"{store_name}.{key}"
    return {
        "faiss": folder / f"{base}.index",
        "npy": folder / f"{base}.npy",
        "ids": folder / f"{base}.ids.npy",
        "meta": folder / f"{base}.json",
    }


@dataclass
class EmbeddingIndex:
    """Embeddings of a store's rows, searchable by L2 distance on unit vectors."""

    knn: KnnIndex
    ids: np.ndarray  # (n,) int64 store rows of the index positions
    store_fingerprint: str = ""
    model_hash: str = ""
    location: Path | None = field(default=None, compare=False)  # the saved data file, if any

    @classmethod
    def build(
        cls, vectors, ids, store_fingerprint="", model_hash="", backend=None, flat_max_rows=FLAT_MAX_ROWS
    ) -> EmbeddingIndex:
        """Index ``vectors`` (row i is store row ``ids[i]``), normalised and added in blocks."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(vectors):
            raise GalcatError(f"{len(vectors)} embeddings but {len(ids)} store rows")
        knn = KnnIndex.build(vectors, normalize=True, backend=backend, flat_max_rows=flat_max_rows)
        return cls(knn, ids, store_fingerprint, model_hash)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def backend(self) -> str:
        return self.knn.backend

    @property
    def meta(self) -> dict:
        return {"store_fingerprint": self.store_fingerprint, "model_hash": self.model_hash, **self.knn.meta}

    def positions(self, rows) -> np.ndarray:
        """Index positions of store ``rows`` (-1 where a row is not in the index)."""
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(self.ids, kind="stable")
        at = np.searchsorted(self.ids[order], rows).clip(0, len(self) - 1)
        found = self.ids[order][at] == rows
        return np.where(found, order[at], -1)

    def vectors_of(self, rows) -> np.ndarray:
        """The stored (unit) embeddings of store ``rows``."""
        positions = self.positions(rows)
        if (positions < 0).any():
            raise GalcatError(f"store row {np.asarray(rows)[positions < 0][0]} is not in the index")
        return self.knn.reconstruct(positions)

    def search(self, query: np.ndarray, k: int, exclude_rows=None, allowed_rows=None):
        """(distances, store rows) of the k nearest entries per query row, nearest first.

        ``exclude_rows[i]`` (a store row, or -1) is skipped for query i, e.g. the query itself;
        ``allowed_rows`` (bool over store rows) restricts the candidates, e.g. to labelled rows.
        """
        exclude = None if exclude_rows is None else self.positions(exclude_rows)
        allowed = None if allowed_rows is None else np.asarray(allowed_rows, dtype=bool)[self.ids]
        available = len(self) if allowed is None else int(allowed.sum())
        if k > available - int(exclude is not None):
            raise GalcatError(f"the index has {available} entries; cannot return {k} neighbours")
        dist, pos = self.knn.search(np.atleast_2d(query), k, exclude=exclude, allowed=allowed)
        return dist, self.ids[pos]

    # ----------------------------------------------------------------------- files
    def save(self, store_path, key: str) -> Path | None:
        """Write the index beside the store, else in the user cache; None when neither is writable.

        The index is already built and usable, so a failed save only warns: it never raises.
        """
        errors = []
        for folder in index_locations(store_path, key):
            paths = _paths(folder, Path(store_path).name, key)
            data = paths["faiss"] if self.backend == "faiss" else paths["npy"]
            try:
                paths["meta"].unlink(missing_ok=True)
                with atomic_path(paths["ids"]) as tmp, open(tmp, "wb") as fh:
                    np.save(fh, self.ids)
                self.knn.save(data)
                atomic_write(paths["meta"], json.dumps({**self.meta, "data": data.name}, indent=2) + "\n")
            except OSError as exc:
                errors.append(f"{folder}: {exc.strerror or exc}")
                continue
            self.location = data
            return data
        from galcat.progress import console

        console.print(f"galcat: warning: the embedding index is not saved ({'; '.join(errors)})")
        return None

    @classmethod
    def load(cls, store_path, key: str, store_fingerprint: str, model_digest: str) -> EmbeddingIndex | None:
        """The saved index, or None when missing or stale (other store contents or model weights)."""
        for folder in index_locations(store_path, key):
            paths = _paths(folder, Path(store_path).name, key)
            index = cls._load_from(paths, store_fingerprint, model_digest)
            if index is not None:
                return index
        return None

    @classmethod
    def _load_from(cls, paths, store_fingerprint, model_digest) -> EmbeddingIndex | None:
        try:
            meta = json.loads(paths["meta"].read_text())
        except (OSError, ValueError):
            return None
        if meta.get("store_fingerprint") != store_fingerprint or meta.get("model_hash") != model_digest:
            return None
        data = paths["meta"].with_name(str(meta.get("data", "")))
        try:
            ids = np.load(paths["ids"])
            knn = KnnIndex.load(data, meta)
        except (OSError, ValueError, RuntimeError):
            return None
        if knn is None or len(ids) != len(knn):
            return None
        return cls(knn, ids, store_fingerprint, model_digest, location=data)
