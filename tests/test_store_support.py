"""Helpers (no tests) for the store tests: synthetic catalogues, image folders and sources.

The pixel-source contract belongs to ``galcat.images`` (``source.fetch(row_index, row) ->
FetchResult``, ``fetch_many(source, table, workers)``). When that module does not provide them
yet, :func:`local_source` and :func:`ensure_fetch_many` supply minimal private stand-ins so the
store tests still exercise the store; the package itself never falls back.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table
from PIL import Image

import galcat.images


@dataclass
class _FetchResult:
    objid: str
    row_index: int
    status: str
    image: np.ndarray | None
    sha256: str
    origin: str
    error: str = ""


class _DirSource:
    """Reads ``{dir}/{key}.{png,jpg,jpeg}``; a missing file is a 'failed' row."""

    def __init__(self, root, key="objid"):
        self.root = Path(root)
        self.key = key

    def fetch(self, row_index, row):
        objid = str(row["objid"])
        name = str(row[self.key])
        for ext in (".png", ".jpg", ".jpeg"):
            path = self.root / f"{name}{ext}"
            if path.exists():
                raw = path.read_bytes()
                with Image.open(path) as im:
                    image = np.asarray(im.convert("RGB"))
                return _FetchResult(objid, row_index, "ok", image, hashlib.sha256(raw).hexdigest(), str(path))
        return _FetchResult(objid, row_index, "failed", None, "", str(self.root / name), "no image file")


def _fetch_many(source, table, workers=4):
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = [pool.submit(source.fetch, i, table[i]) for i in range(len(table))]
        for fut in as_completed(futures):
            yield fut.result()


def ensure_fetch_many() -> None:
    if not hasattr(galcat.images, "fetch_many"):
        galcat.images.fetch_many = _fetch_many


def local_source(root, key="objid"):
    """galcat.images.LocalArchiveSource when available, else the private stand-in."""
    ensure_fetch_many()
    cls = getattr(galcat.images, "LocalArchiveSource", None)
    if cls is not None:
        return cls(root, key=key)
    return _DirSource(root, key)


def synthetic_catalogue(n: int, seed: int = 0) -> Table:
    """A standard-looking catalogue: objid, ra/dec (one masked), hubble9 with gaps, 2 vote columns."""
    rng = np.random.default_rng(seed)
    classes = ["E", "Irr", "S0", "SBa", "SBb", "SBc", "Sa", "Sb", "Sc"]
    t = Table()
    t["objid"] = [f"G{i:04d}" for i in range(n)]
    t["ra"] = MaskedColumn(rng.uniform(0, 360, n), unit=u.deg, mask=np.arange(n) == 3)
    t["dec"] = MaskedColumn(rng.uniform(-30, 60, n), unit=u.deg, mask=np.arange(n) == 3)
    t["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    labels = [classes[i % 9] for i in range(n)]
    t["hubble9"] = MaskedColumn(labels, mask=np.arange(n) % 10 == 7)
    t["t01_a01"] = rng.random(n)
    t["t01_a02"] = 1 - t["t01_a01"]
    t.meta.update(
        catalogue="synthetic",
        label_schemes={"hubble9": classes},
        vote_columns=["t01_a01", "t01_a02"],
        label_params={"seed": seed},
    )
    return t


def synthetic_images(n: int, size: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def write_image_folder(root: Path, objids, size: int = 48, seed: int = 0, skip=()) -> Path:
    """PNG files ``{objid}.png`` (random, lossless) except for the objids in ``skip``."""
    root.mkdir(parents=True, exist_ok=True)
    for objid, image in zip(objids, synthetic_images(len(objids), size, seed), strict=True):
        if objid not in skip:
            Image.fromarray(image).save(root / f"{objid}.png")
    return root
