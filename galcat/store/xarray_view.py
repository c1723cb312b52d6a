"""An xarray view of a store: images as a lazy-free DataArray with catalogue columns as coordinates.

Useful for notebooks (``ds.images.sel(galaxy=...)``, ``ds.groupby('hubble9')``). The whole
``images`` dataset is read into memory, so use it on stores that fit (a 75 px store of 10^5
galaxies is 1.7 GB); the training loader reads the HDF5 file directly instead.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from galcat.store.reader import open_store


def _coordinate(column) -> np.ndarray | None:
    """A 1-D numpy array for a scalar catalogue column (masked -> NaN / empty string), else None."""
    if getattr(column, "ndim", 1) != 1:
        return None
    kind = column.dtype.kind
    if kind in "fiu":
        values = np.ma.asarray(column)
        if kind in "iu" and np.ma.is_masked(values):
            return np.ma.filled(values.astype(np.float64), np.nan)
        return np.ma.filled(values.astype(np.float64), np.nan) if kind == "f" else np.asarray(values)
    if kind == "b":
        return np.asarray(np.ma.filled(column, False))
    if kind in "US":
        return np.asarray(np.ma.filled(column, "")).astype(str)
    return None


def open_dataset(path) -> xr.Dataset:
    """``xarray.Dataset`` with ``images`` (galaxy, y, x, band) and per-galaxy coordinates."""
    store = open_store(path)
    catalogue = store.catalogue
    n = len(store)
    coords: dict = {"galaxy": np.arange(n), "band": ["red", "green", "blue"]}
    for name in catalogue.colnames:
        values = None if name in coords or name == "images" else _coordinate(catalogue[name])
        if values is not None:
            coords[name] = ("galaxy", values)
    data_vars = {"images": (("galaxy", "y", "x", "band"), store.read_images(slice(None)))}
    for scheme in store.schemes:
        data_vars[f"label_{scheme}"] = (
            "galaxy",
            store.label_codes(scheme),
            {"classes": json.dumps(store.class_names(scheme))},
        )
    for name in store.target_sets:
        data_vars[f"targets_{name}"] = (("galaxy", f"{name}_column"), store.targets(name))
        coords[f"{name}_column"] = store.target_names(name)
    attrs = {k: v for k, v in store.attrs.items() if isinstance(v, str | int | float)}
    for key in ("source", "status"):
        coords[f"provenance_{key}"] = ("galaxy", np.asarray(store.provenance(key)))
    store.close()
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
