"""Read-only access to a store: lazy, picklable, fast on contiguous rows.

The HDF5 handle is opened on first use and reopened in each process (h5py handles must not
cross ``fork``), so a :class:`Store` can be handed to DataLoader workers as is. Every read goes
through :func:`_damage_is_an_error`: a damaged file (HDF5 read errors, undecodable bytes, bad
JSON, missing datasets) is a GalcatError naming the store, the dataset and the rows asked for.
"""

from __future__ import annotations

import functools
import json
import os
from functools import cached_property
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (Blosc-compressed stores need its filters registered)
import numpy as np
from astropy.table import Table

from galcat.errors import GalcatError
from galcat.schemes.classes import HUBBLE9
from galcat.store.writer import SCHEMA_VERSION

CHUNK_CACHE_BYTES = 64 * 1024 * 1024
#: what h5py, json and the decoders raise on damaged bytes
DAMAGE_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, UnicodeDecodeError, AttributeError)


def describe_rows(idx) -> str:
    """``rows 4-7`` / ``row 3`` for an index (slice, int or array) used in error messages."""
    if isinstance(idx, slice):
        start, stop = idx.start or 0, idx.stop
        return f"rows {start}-{stop - 1}" if stop is not None else f"rows {start}-"
    values = np.atleast_1d(np.asarray(idx))
    if values.size == 1:
        return f"row {int(values[0])}"
    return f"rows {int(values.min())}-{int(values.max())}"


def _damage_is_an_error(what: str):
    """Decorator: damage met while reading ``what`` becomes one GalcatError naming file and rows."""

    def decorate(read):
        @functools.wraps(read)
        def guarded(self, *args, **kwargs):
            try:
                return read(self, *args, **kwargs)
            except GalcatError:
                raise
            except DAMAGE_ERRORS as exc:
                rows = f", {describe_rows(args[0])}" if what == "images" and args else ""
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise GalcatError(
                    f"{self.path}{rows}: {what} unreadable, the store is damaged ({reason}); "
                    f"`galcat info --verify {self.path}` lists every damaged row"
                ) from None

        return guarded

    return decorate


def _decode(values) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


class Store:
    """A complete galcat HDF5 store opened read-only."""

    def __init__(self, path):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._check()

    # -- file handle -------------------------------------------------------------------------
    @_damage_is_an_error("store header")
    def _check(self) -> None:
        if self.path.name.endswith(".partial"):
            raise GalcatError(f"{self.path}: an unfinished build (.partial); rerun the build to finish it")
        if not self.path.exists():
            raise GalcatError(f"{self.path}: no such store")
        try:
            f = self.file
        except OSError as exc:
            raise GalcatError(
                f"{self.path}: not a readable HDF5 store ({str(exc).splitlines()[0]})"
            ) from None
        if not f.attrs.get("complete", False) or "images" not in f:
            raise GalcatError(f"{self.path}: not a complete galcat store")
        version = int(f.attrs.get("schema_version", -1))
        if version > SCHEMA_VERSION:
            raise GalcatError(
                f"{self.path}: store schema {version} is newer than this galcat ({SCHEMA_VERSION})"
            )

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            # a 64 MiB chunk cache keeps recently decompressed chunks for shuffled batches
            self._file = h5py.File(self.path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES, rdcc_nslots=10007)
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]
        self._file = None
        self._pid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, n={len(self)}, image_shape={self.image_shape})"

    # -- images ------------------------------------------------------------------------------
    @_damage_is_an_error("images")
    def __len__(self) -> int:
        return int(self.file["images"].shape[0])

    @property
    @_damage_is_an_error("images")
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.file["images"].shape[1:])

    @_damage_is_an_error("images")
    def read_images(self, idx, dataset: str = "images") -> np.ndarray:
        """uint8 (n,H,W,3) for a slice or an int index array (any order; sorted runs read fastest)."""
        ds = self.file[dataset]
        if isinstance(idx, slice):
            return ds[idx]
        if np.isscalar(idx):
            return ds[int(idx)][None]
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim != 1:
            raise GalcatError("read_images: index must be a slice or a 1-D integer array")
        if len(idx) == 0:
            return np.empty((0, *ds.shape[1:]), dtype=np.uint8)
        n = ds.shape[0]
        if idx.min() < 0 or idx.max() >= n:
            raise GalcatError(f"read_images: index out of range for a store of {n} rows")
        unique, inverse = np.unique(idx, return_inverse=True)
        out = np.empty((len(unique), *ds.shape[1:]), dtype=np.uint8)
        # read each run of consecutive rows as one slice: far fewer chunk decompressions
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        pos = 0
        for run in np.split(unique, breaks):
            ds.read_direct(out, np.s_[run[0] : run[-1] + 1], np.s_[pos : pos + len(run)])
            pos += len(run)
        if len(unique) == len(idx) and np.all(unique == idx):
            return out
        return out[inverse]

    @property
    @_damage_is_an_error("original images")
    def has_original(self) -> bool:
        return "original" in self.file

    # -- tables and labels -------------------------------------------------------------------
    @cached_property
    @_damage_is_an_error("catalogue")
    def catalogue(self) -> Table:
        return Table.read(self.file, path="catalogue", character_as_bytes=False)

    @property
    @_damage_is_an_error("labels")
    def schemes(self) -> list[str]:
        return sorted(self.file["labels"].keys()) if "labels" in self.file else []

    def choose_scheme(
        self, requested=None, model_scheme=None, model_classes=(), need: str = ""
    ) -> str | None:
        """The label scheme a stage uses, chosen one way by train, evaluate and probe.

        ``requested`` (which must exist), else the model's own scheme, else ``hubble11`` for a
        ``hubble9`` model (its labels are collapsed), else the store's first. ``need`` names what
        needs labels, for the error when the store has none; without it an unlabelled store gives None.
        """
        schemes = self.schemes
        if requested:
            if requested not in schemes:
                raise GalcatError(f"{self.path}: no label scheme {requested!r}; the store has {schemes}")
            return requested
        if not schemes:
            if need:
                raise GalcatError(
                    f"{self.path}: the store has no labels (no labels/<scheme>); {need} needs them"
                )
            return None
        if model_scheme in schemes:
            return model_scheme
        if tuple(model_classes) == tuple(HUBBLE9) and "hubble11" in schemes:
            return "hubble11"
        return schemes[0]

    def _labels(self, scheme: str):
        if scheme not in self.schemes:
            raise GalcatError(f"{self.path}: no label scheme {scheme!r}; the store has {self.schemes}")
        return self.file[f"labels/{scheme}"]

    @_damage_is_an_error("labels")
    def label_codes(self, scheme: str) -> np.ndarray:
        return self._labels(scheme)[:].astype(np.int64)

    @_damage_is_an_error("labels")
    def class_names(self, scheme: str) -> list[str]:
        return list(json.loads(self._labels(scheme).attrs["classes"]))

    @property
    @_damage_is_an_error("targets")
    def target_sets(self) -> list[str]:
        return sorted(self.file["targets"].keys()) if "targets" in self.file else []

    def _target(self, name: str):
        if name not in self.target_sets:
            raise GalcatError(f"{self.path}: no targets {name!r}; the store has {self.target_sets}")
        return self.file[f"targets/{name}"]

    @_damage_is_an_error("targets")
    def targets(self, name: str = "votes") -> np.ndarray:
        return self._target(name)[:].astype(np.float32)

    @_damage_is_an_error("targets")
    def target_names(self, name: str = "votes") -> list[str]:
        return list(json.loads(self._target(name).attrs["columns"]))

    @_damage_is_an_error("provenance")
    def provenance(self, key: str) -> list[str]:
        return _decode(self.file[f"provenance/{key}"][:])

    @property
    @_damage_is_an_error("checksums/pixels")
    def pixel_checksums(self) -> list[str]:
        return _decode(self.file["checksums/pixels"][:])

    # -- identity and config -----------------------------------------------------------------
    @property
    @_damage_is_an_error("fingerprint")
    def fingerprint(self) -> str:
        return str(self.file.attrs["fingerprint"])

    @property
    @_damage_is_an_error("store attributes")
    def attrs(self) -> dict:
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self.file.attrs.items()}

    @property
    @_damage_is_an_error("store config")
    def config(self) -> dict:
        return json.loads(self.file.attrs.get("config", "{}"))


def open_store(path) -> Store:
    """Open a complete store read-only; a ``.partial`` build or a non-store file is a GalcatError."""
    return Store(path)
