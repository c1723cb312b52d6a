"""Image folder reader: an ``id[,label][,ra,dec]`` CSV plus a directory of ``{id}.{ext}`` images.

Examples in the wild: Galaxy Zoo 1 (``OBJID,CLASS,class_name`` + ``images/<OBJID>.jpeg``) and the
Kaggle Galaxy Challenge subset (``GalaxyID,label`` + ``images/<GalaxyID>.jpg``). The label scheme
is named after the label column, its classes sorted; without a label column the folder is
unlabelled. Image files are matched by id through the same case-insensitive
:class:`~galcat.images.local.ArchiveIndex` the build reads pixels with; rows without an image file
are kept (``image_file`` masked) and counted (``meta['n_missing_images']``), so a build lists them
as failed rows. User RA/Dec columns become ``ra``/``dec``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import MaskedColumn

from galcat import __version__
from galcat.catalogues.spec import load_spec
from galcat.catalogues.standard import assemble, check_unique_ids, source_positions
from galcat.catalogues.textio import read_delimited, require_column
from galcat.errors import GalcatError, where
from galcat.images.local import ArchiveIndex
from galcat.schemes import HUBBLE9, HUBBLE11


def read_folder(source, images=None, id_column=None, label_column=None, ra_column=None, dec_column=None):
    """Read an image folder's CSV into the standard table (objid from the id column).

    ``source``: the CSV; ``images``: the image directory (default ``images/`` beside it). The
    label column is optional (found by name, or ``label_column``): without one the table is
    unlabelled. User RA/Dec columns (by name or ``ra_column``/``dec_column``; degrees,
    sexagesimal or with units) become the standard ``ra``/``dec``. Rows without an image file
    are kept with an empty ``image_file`` and counted in ``meta['n_missing_images']``, so a
    store build reports them.

    Example::

        t = read_folder("gz1/labels.csv", label_column="class_name")    # images in gz1/images/
    """
    spec = load_spec("folder")
    if source is None:
        raise GalcatError("folder catalogue: pass the CSV as source (--source labels.csv)")
    path = Path(source)
    image_dir = Path(images) if images is not None else path.parent / spec.source.get("image_dir", "images")
    if not image_dir.is_dir():
        raise GalcatError(f"{image_dir}: image directory not found (pass --images DIR)")
    table = read_delimited(path, spec.source.get("delimiter", ","), dtype=str)
    id_col = require_column(table, [id_column] if id_column else spec.candidates("objid"), path, "id")
    if label_column:
        label_col = require_column(table, [label_column], path, "label")
    else:
        label_col = next((c for c in spec.candidates("label") if c in table.colnames), None)
    objids = []
    for row, value in enumerate(table[id_col], start=1):
        if np.ma.is_masked(value) or not str(value).strip():
            raise GalcatError(f"{where(path, row, id_col)}empty id")
        objids.append(str(value).strip())
    check_unique_ids(objids, path, id_col)
    table, ra, dec = source_positions(table, path, ra_column, dec_column)
    archive = ArchiveIndex(image_dir, tuple(spec.source.get("image_extensions", [".jpg", ".jpeg", ".png"])))
    found = [archive.find(o) for o in objids]
    n = len(objids)
    n_missing = sum(f is None for f in found)
    if label_col is not None:
        labels = [
            None if np.ma.is_masked(v) or not str(v).strip() else str(v).strip() for v in table[label_col]
        ]
        classes = scheme_classes(label_col, labels, path)
        reasons = ["" if lab is not None else f"empty {label_col}" for lab in labels]
        schemes = {label_col: classes}
    else:
        labels, reasons, schemes = [None] * n, ["no label column"] * n, {}
    hubble9 = labels if label_col == "hubble9" else [None] * n
    hubble11 = labels if label_col == "hubble11" else [None] * n
    meta = spec.table_meta(
        path,
        image_dir=str(image_dir.resolve()),
        label_rule=f"column:{label_col}" if label_col else "none (unlabelled)",
        label_params={"id_column": id_col, "label_column": label_col},
        galcat_version=__version__,
        label_schemes=schemes,
        n_missing_images=n_missing,
    )
    return assemble(
        table,
        objid=objids,
        ra=ra,
        dec=dec,
        hubble9=hubble9,
        hubble11=hubble11,
        reasons=reasons,
        meta=meta,
        extra_front={
            "image_file": MaskedColumn([f.name if f else "" for f in found], mask=[f is None for f in found])
        },
    )


def scheme_classes(label_col: str, labels, path) -> list[str]:
    """Sorted class names; a hubble9/hubble11 column must hold that scheme's classes (its order)."""
    present = sorted({lab for lab in labels if lab is not None})
    fixed = {"hubble9": HUBBLE9, "hubble11": HUBBLE11}.get(label_col)
    if fixed is None:
        return present
    for row, lab in enumerate(labels, start=1):
        if lab is not None and lab not in fixed:
            raise GalcatError(f"{where(path, row, label_col)}{lab!r} is not a {label_col} class")
    return list(fixed)
