"""Labelled image folder reader: an ``id,label`` CSV plus a directory of ``{id}.{ext}`` images.

Examples in the wild: Galaxy Zoo 1 (``OBJID,CLASS,class_name`` + ``images/<OBJID>.jpeg``) and the
Kaggle Galaxy Challenge subset (``GalaxyID,label`` + ``images/<GalaxyID>.jpg``). The label scheme
is named after the label column, its classes sorted. Image files are matched by id through the
same case-insensitive :class:`~galcat.images.local.ArchiveIndex` the build reads pixels with; rows
without an image file are kept (``image_file`` masked) and counted (``meta['n_missing_images']``),
so a build lists them as failed rows instead of shrinking its totals. There are no positions:
``ra``/``dec`` stay masked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import MaskedColumn

from galcat import __version__
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import assemble, check_unique_ids
from galcat.catalogues.textio import read_delimited, require_column
from galcat.errors import GalcatError, where
from galcat.images.local import ArchiveIndex
from galcat.schemes import HUBBLE9, HUBBLE11


def read_folder(source, images=None, id_column=None, label_column=None):
    """Read a labelled folder into the standard table (objid from the id column).

    ``source``: the labels CSV; ``images``: the image directory (default ``images/`` beside it).

    Example::

        t = read_folder("gz1/labels.csv", label_column="class_name")    # images in gz1/images/
    """
    spec = load_spec("folder")
    if source is None:
        raise GalcatError("folder catalogue: pass the labels CSV as source (--source labels.csv)")
    path = Path(source)
    image_dir = Path(images) if images is not None else path.parent / spec.source.get("image_dir", "images")
    if not image_dir.is_dir():
        raise GalcatError(f"{image_dir}: image directory not found (pass --images DIR)")
    header = read_delimited(path, spec.source.get("delimiter", ","), dtype=str)
    id_col = require_column(header, [id_column] if id_column else spec.candidates("objid"), path, "id")
    label_col = require_column(
        header, [label_column] if label_column else spec.candidates("label"), path, "label"
    )
    table = header
    objids = []
    for row, value in enumerate(table[id_col], start=1):
        if np.ma.is_masked(value) or not str(value).strip():
            raise GalcatError(f"{where(path, row, id_col)}empty id")
        objids.append(str(value).strip())
    check_unique_ids(objids, path, id_col)
    archive = ArchiveIndex(image_dir, tuple(spec.source.get("image_extensions", [".jpg", ".jpeg", ".png"])))
    found = [archive.find(o) for o in objids]
    n_missing = sum(f is None for f in found)
    labels = [None if np.ma.is_masked(v) or not str(v).strip() else str(v).strip() for v in table[label_col]]
    classes = _classes(label_col, labels, path)
    reasons = ["" if lab is not None else f"empty {label_col}" for lab in labels]
    n = len(objids)
    hubble9 = labels if label_col == "hubble9" else None if label_col == "hubble11" else [None] * n
    hubble11 = labels if label_col == "hubble11" else [None] * n
    meta = {
        "catalogue": "folder",
        "citation": spec.citation,
        "source": str(path),
        "image_dir": str(image_dir.resolve()),
        "label_rule": f"column:{label_col}",
        "label_params": {"id_column": id_col, "label_column": label_col},
        "galcat_version": __version__,
        "label_schemes": {label_col: classes},
        "n_missing_images": n_missing,
        "cutout": dict(spec.cutout),
    }
    return assemble(
        table,
        objid=objids,
        hubble9=hubble9,
        hubble11=hubble11,
        reasons=reasons,
        meta=meta,
        extra_front={
            "image_file": MaskedColumn([f.name if f else "" for f in found], mask=[f is None for f in found])
        },
    )


def _classes(label_col: str, labels, path) -> list[str]:
    """Sorted class names; a hubble9/hubble11 column must hold that scheme's classes (its order)."""
    present = sorted({lab for lab in labels if lab is not None})
    fixed = {"hubble9": HUBBLE9, "hubble11": HUBBLE11}.get(label_col)
    if fixed is None:
        return present
    for row, lab in enumerate(labels, start=1):
        if lab is not None and lab not in fixed:
            raise GalcatError(f"{where(path, row, label_col)}{lab!r} is not a {label_col} class")
    return list(fixed)
