"""A saved embedding index beside a store, so that repeated neighbour queries skip the network.

Files, for store ``R.h5`` and a run/fold key ``<key>``:
``R.h5.<key>.index`` (faiss ``IndexFlatL2`` when faiss is installed) or ``R.h5.<key>.npy``,
``R.h5.<key>.ids.npy`` (store rows) and ``R.h5.<key>.json`` (store fingerprint, model hash).
The index is rebuilt when the store fingerprint or the model weights change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_path, atomic_write
from galcat.errors import GalcatError

try:  # optional: faiss makes the index file a real faiss index and searches faster
    import faiss
except ImportError:  # pragma: no cover - exercised on machines without faiss
    faiss = None


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32 contiguous."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def model_hash(model) -> str:
    """sha256 over a torch module's state dict (names, shapes and bytes): changes when weights do."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def index_key(run_dir, fold: int) -> str:
    """Short key naming the index files of one run's fold."""
    text = f"{Path(run_dir).resolve()}|fold={fold}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class EmbeddingIndex:
    """Unit-norm embeddings of a store's rows with exact L2 search (faiss or numpy)."""

    vectors: np.ndarray  # (n, D) float32, L2-normalised
    ids: np.ndarray  # (n,) int64 store rows
    store_fingerprint: str = ""
    model_hash: str = ""

    def __post_init__(self):
        self.vectors = normalize(self.vectors)
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self._faiss = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def backend(self) -> str:
        return "faiss" if faiss is not None else "numpy"

    def search(self, query: np.ndarray, k: int, exclude_rows=None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, store rows) of the k nearest entries per query row, nearest first.

        ``exclude_rows[i]`` (a store row, or -1) is skipped for query i, e.g. the query itself.
        """
        query = normalize(np.atleast_2d(query))
        extra = 0 if exclude_rows is None else 1
        want = min(k + extra, len(self))
        if want <= 0 or (k > len(self) - extra):
            raise GalcatError(f"the index has {len(self)} entries; cannot return {k} neighbours")
        if faiss is not None:
            if self._faiss is None:
                self._faiss = faiss.IndexFlatL2(self.vectors.shape[1])
                self._faiss.add(self.vectors)
            sq, pos = self._faiss.search(query, want)
        else:
            sq = (query**2).sum(1)[:, None] - 2 * query @ self.vectors.T + (self.vectors**2).sum(1)[None]
            pos = np.argsort(sq, axis=1, kind="stable")[:, :want]
            sq = np.take_along_axis(sq, pos, axis=1)
        rows = self.ids[pos]
        dist = np.sqrt(np.clip(sq, 0, None)).astype(np.float32)
        if exclude_rows is None:
            return dist, rows
        keep = rows != np.asarray(exclude_rows)[:, None]
        # drop the excluded row where present, otherwise the farthest extra candidate
        keep[keep.all(axis=1), -1] = False
        return (dist[keep].reshape(len(query), k), rows[keep].reshape(len(query), k))

    # ----------------------------------------------------------------------- files
    @staticmethod
    def paths(store_path, key: str) -> dict[str, Path]:
        base = f"{Path(store_path)}.{key}"
        return {
            "faiss": Path(base + ".index"),
            "npy": Path(base + ".npy"),
            "ids": Path(base + ".ids.npy"),
            "meta": Path(base + ".json"),
        }

    def save(self, store_path, key: str) -> Path:
        """Write the index files beside the store (meta last, so a half-written index is ignored)."""
        paths = self.paths(store_path, key)
        paths["meta"].unlink(missing_ok=True)
        with atomic_path(paths["ids"]) as tmp:
            np.save(tmp, self.ids)
        if faiss is not None:
            index = faiss.IndexFlatL2(self.vectors.shape[1])
            index.add(self.vectors)
            with atomic_path(paths["faiss"]) as tmp:
                faiss.write_index(index, str(tmp))
            data_path = paths["faiss"]
        else:
            with atomic_path(paths["npy"]) as tmp:
                np.save(tmp, self.vectors)
            data_path = paths["npy"]
        meta = {
            "store_fingerprint": self.store_fingerprint,
            "model_hash": self.model_hash,
            "backend": self.backend,
            "n": len(self),
            "dim": int(self.vectors.shape[1]),
            "data": data_path.name,
        }
        atomic_write(paths["meta"], json.dumps(meta, indent=2) + "\n")
        return data_path

    @classmethod
    def load(cls, store_path, key: str, store_fingerprint: str, model_digest: str) -> EmbeddingIndex | None:
        """The saved index, or None when missing or stale (other store contents or model weights)."""
        paths = cls.paths(store_path, key)
        try:
            meta = json.loads(paths["meta"].read_text())
        except (OSError, ValueError):
            return None
        if meta.get("store_fingerprint") != store_fingerprint or meta.get("model_hash") != model_digest:
            return None
        data_path = paths["meta"].with_name(meta.get("data", ""))
        try:
            ids = np.load(paths["ids"])
            if data_path.suffix == ".index":
                if faiss is None:
                    return None
                index = faiss.read_index(str(data_path))
                vectors = index.reconstruct_n(0, index.ntotal)
            else:
                vectors = np.load(data_path)
        except (OSError, ValueError, RuntimeError):
            return None
        if len(vectors) != len(ids) or len(ids) != meta.get("n"):
            return None
        return cls(vectors, ids, store_fingerprint, model_digest)
