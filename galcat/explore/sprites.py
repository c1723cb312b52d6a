"""Galaxy images as JPEG sprite sheets: a few files instead of one per galaxy, each loaded only
when a row or panel on screen points into it (the browser fetches a CSS background lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_write

#: galaxies per sheet side (a sheet holds SIDE * SIDE cells)
SIDE = 10


@dataclass
class SheetSet:
    """Where cell ``c`` lives: sheet ``c // per``, column ``c % SIDE``, row ``(c % per) // SIDE``."""

    prefix: str  # path relative to the site, e.g. "img/thumb-"
    size: int  # pixels per cell side
    count: int = 0  # cells written

    @property
    def per(self) -> int:
        return SIDE * SIDE

    def as_dict(self) -> dict:
        return {"prefix": self.prefix, "size": self.size, "side": SIDE, "per": self.per, "count": self.count}


def _resize(images: np.ndarray, size: int) -> list:
    from PIL import Image

    out = []
    for image in images:
        picture = Image.fromarray(np.ascontiguousarray(image))
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.Resampling.LANCZOS)
        out.append(picture)
    return out


def write_sheets(site: Path, sets: list[SheetSet], store, rows: np.ndarray, progress=None) -> None:
    """Write ``store``'s ``rows`` (in that order, cells 0..n-1) into each of ``sets``.

    Images are read sheet by sheet (sorted, so the HDF5 chunks are read once) and every set is
    cut from the same read.
    """
    from PIL import Image

    rows = np.asarray(rows, dtype=np.int64)
    for start in range(0, len(rows), SIDE * SIDE):
        chunk = rows[start : start + SIDE * SIDE]
        order = np.argsort(chunk, kind="stable")
        unique, inverse = np.unique(chunk[order], return_inverse=True)
        images = np.empty((len(chunk), *store.image_shape), dtype=np.uint8)
        images[order] = store.read_images(unique)[inverse]
        for sheet_set in sets:
            size = sheet_set.size
            sheet = Image.new("RGB", (SIDE * size, -(-len(chunk) // SIDE) * size))
            for i, picture in enumerate(_resize(images, size)):
                sheet.paste(picture, ((i % SIDE) * size, (i // SIDE) * size))
            buffer = BytesIO()
            sheet.save(buffer, format="JPEG", quality=85)
            atomic_write(
                site / f"{sheet_set.prefix}{start // (SIDE * SIDE)}.jpg", buffer.getvalue(), fsync=False
            )
            sheet_set.count = start + len(chunk)
        if progress is not None:
            progress(len(chunk))
