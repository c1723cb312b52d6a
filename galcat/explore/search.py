"""Similarity search for the served explorer: a galaxy id, a position or an image -> neighbours.

The search space is the explored catalogue's own ``embedding`` column (an exact
:class:`galcat.outputs.index.EmbeddingIndex` of the rows that have one). An id, name or "RA DEC"
is looked up as ``galcat neighbours`` looks a query up
(:func:`galcat.outputs.neighbours.find_query`); an image goes through the run's fold ensemble,
resized to the store's side like a store row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from galcat.errors import GalcatError
from galcat.outputs.columns import masked_to_str

MAX_K = 100


@dataclass
class Answer:
    query: str
    neighbours: list[dict]

    def as_dict(self) -> dict:
        return {"query": self.query, "neighbours": self.neighbours}


class SimilaritySearch:
    """Neighbours among the catalogue's rows; image queries need the run that embedded it."""

    def __init__(self, catalogue, store_path, model=None, resolver=None, radius_arcsec=10.0):
        from galcat.explore.data import prediction_column, standard_view
        from galcat.outputs.index import EmbeddingIndex
        from galcat.store import open_store
        from galcat.tables import read_table

        with open_store(store_path) as store:
            self.table = standard_view(read_table(catalogue), store.catalogue, catalogue)
        if "embedding" not in self.table.colnames:
            raise GalcatError(
                f"{catalogue}: no embedding column; similarity search needs `galcat embed` output"
            )
        embedding = np.ma.asarray(self.table["embedding"], dtype=np.float32)
        vectors = np.ma.filled(embedding, 0.0)
        self.valid = ~np.ma.getmaskarray(embedding).any(axis=1) & (np.abs(vectors).sum(axis=1) > 0)
        if not self.valid.any():
            raise GalcatError(f"{catalogue}: no row has an embedding; nothing to search")
        # rows without an embedding (a classify row that failed) are left out of the index
        self.index = EmbeddingIndex.build(vectors[self.valid], np.flatnonzero(self.valid), backend="torch")
        self.objids = masked_to_str(self.table["objid"])
        pred = prediction_column(self.table, catalogue)
        scheme = pred[len("pred_") :]
        truth = self.table[scheme] if scheme in self.table.colnames else self.table[pred]
        self.labels = masked_to_str(truth)
        self.store_path = str(store_path)
        meta = self.table.meta
        self.model = model or str(meta.get("embed_model") or meta.get("classify_model") or "") or None
        self.folds = str(meta.get("embed_folds", "") or "") or None
        self.resolver = resolver
        self.radius = radius_arcsec
        self._predictor = None
        self._lock = threading.Lock()

    @property
    def can_embed_images(self) -> bool:
        return bool(self.model) and Path(self.model).exists()

    def _neighbours(self, vector, k: int, exclude_row: int | None = None) -> list[dict]:
        k = _check_k(k, len(self.index) - (exclude_row is not None))
        exclude = None if exclude_row is None else np.array([exclude_row])
        distances, rows = self.index.search(np.atleast_2d(vector).astype(np.float32), k, exclude_rows=exclude)
        return [
            {"row": int(r), "objid": str(self.objids[r]), "label": str(self.labels[r]), "distance": float(d)}
            for d, r in zip(distances[0], rows[0], strict=True)
        ]

    def by_text(self, text: str, k: int) -> Answer:
        """An objid, a name in the catalogue, a resolvable name or "RA DEC" (any notation)."""
        from galcat.outputs.neighbours import find_query

        match = find_query(self.table, text, self.resolver, self.radius)
        if not self.valid[match.row]:
            raise GalcatError(f"galaxy {match.objid!r} has no embedding (it was not classified)")
        vector = self.index.vectors_of([match.row])[0]
        how = {"objid": "id", "name": "name", "resolver": "resolved name", "position": "position"}[match.how]
        where = f", {match.separation_arcsec:.1f} arcsec away" if match.separation_arcsec is not None else ""
        return Answer(
            f"{how} {text!r} -> galaxy {match.objid}{where}", self._neighbours(vector, k, match.row)
        )

    def by_image(self, payload: bytes, k: int) -> Answer:
        """An uploaded PNG/JPEG, embedded by the run's folds (their pooled, calibrated ensemble)."""
        if not self.can_embed_images:
            raise GalcatError("image search needs the run that embedded the catalogue (--model)")
        image = decode_image(payload)
        with self._lock:
            vector = self._embed(image)
        return Answer(f"uploaded image ({image.shape[1]} x {image.shape[0]} px)", self._neighbours(vector, k))

    def _embed(self, image: np.ndarray) -> np.ndarray:
        from galcat.model import load_run
        from galcat.store import open_store

        if self._predictor is None:  # the predictor of the run's folds (embeddings need no temperature)
            run = load_run(self.model)
            self._predictor = run.predictor(self.folds, calibrate=False, batch_size=1, device="cpu")
        with open_store(self.store_path) as store:
            side = int(store.image_shape[0])
        picture = resize(image, side)  # as the catalogue's own images were stored
        return self._predictor.predict(picture[None]).embeddings[0]


def _check_k(k, available: int) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise GalcatError(f"k={k!r}: give a whole number") from None
    if not 1 <= k <= MAX_K:
        raise GalcatError(f"k={k}: must be between 1 and {MAX_K}")
    return min(k, max(available, 1))


def decode_image(payload: bytes) -> np.ndarray:
    """A PNG/JPEG upload as uint8 RGB, or a one-line error."""
    from PIL import Image, UnidentifiedImageError

    if not payload:
        raise GalcatError("the upload is empty; send a PNG or JPEG image")
    try:
        with Image.open(BytesIO(payload)) as picture:
            if picture.width * picture.height > 4096 * 4096:
                raise GalcatError(f"the image is {picture.width} x {picture.height} px; at most 4096 x 4096")
            return np.asarray(picture.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise GalcatError(f"the upload is not a readable image ({type(exc).__name__})") from None


def resize(image: np.ndarray, side: int) -> np.ndarray:
    """Centre square crop resized to ``side`` (the store's image side)."""
    from PIL import Image

    h, w = image.shape[:2]
    edge = min(h, w)
    top, left = (h - edge) // 2, (w - edge) // 2
    picture = Image.fromarray(np.ascontiguousarray(image[top : top + edge, left : left + edge]))
    return np.asarray(picture.resize((side, side), Image.Resampling.LANCZOS), dtype=np.uint8)
