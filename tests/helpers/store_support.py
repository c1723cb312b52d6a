"""Helpers for the store tests: synthetic catalogues, image folders and a local source."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table
from PIL import Image

import galcat.images
from galcat.tables import RA_UCD


def local_source(root, key="objid"):
    """The package's local-archive source over ``root`` (files named by ``key``)."""
    return galcat.images.LocalArchiveSource(root, key=key)


def synthetic_catalogue(n: int, seed: int = 0) -> Table:
    """A standard-looking catalogue: objid, ra/dec (one masked), hubble9 with gaps, 2 vote columns."""
    rng = np.random.default_rng(seed)
    classes = ["E", "Irr", "S0", "SBa", "SBb", "SBc", "Sa", "Sb", "Sc"]
    t = Table()
    t["objid"] = [f"G{i:04d}" for i in range(n)]
    t["ra"] = MaskedColumn(rng.uniform(0, 360, n), unit=u.deg, mask=np.arange(n) == 3)
    t["dec"] = MaskedColumn(rng.uniform(-30, 60, n), unit=u.deg, mask=np.arange(n) == 3)
    t["ra"].meta["ucd"] = RA_UCD
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
