"""Write a complete HDF5 store (layout in docs/architecture.md) and never leave a half-written one.

Every store is first written to a hidden temporary file in the destination folder and then
renamed over the destination with :func:`os.replace`, so a reader sees either no store or a
complete one. The build pipeline (``galcat.store.build``) uses the same block writer to turn
its crash-safe ``.partial`` file into the final store.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import hdf5plugin  # registers the Blosc filters with HDF5 (writing and reading)
import numpy as np
from astropy.table import Table

from galcat.atomic import atomic_path
from galcat.config import json_default
from galcat.errors import GalcatError
from galcat.schemes import SCHEMES, encode

SCHEMA_VERSION = 1
#: images per HDF5 chunk; the loader shuffles blocks of one chunk. Chosen with
#: ``benchmarks/loader.py`` (docs/benchmarks.md): larger chunks stream faster, smaller ones shuffle
#: finer.
CHUNK_ROWS = 16
GZIP_LEVEL = 4
#: ``images`` compression. ``lz4`` (default): Blosc LZ4 with byte shuffle through ``hdf5plugin``,
#: decompresses at memory speed (streams for training); ``zstd``: Blosc Zstd, smaller, slower;
#: ``gzip``: archival, readable by any HDF5 build without plugins; ``lzf``: h5py only; ``none``.
COMPRESSIONS = ("lz4", "zstd", "gzip", "lzf", "none")
DEFAULT_COMPRESSION = "lz4"


def compression_kwargs(compression: str) -> dict:
    """h5py dataset keywords for one of :data:`COMPRESSIONS`."""
    if compression not in COMPRESSIONS:
        raise GalcatError(f"compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if compression in ("lz4", "zstd"):
        return dict(hdf5plugin.Blosc(cname=compression, clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": GZIP_LEVEL}
    if compression == "lzf":
        return {"compression": "lzf"}
    return {}


_STR = h5py.string_dtype("utf-8")


def pixel_digest(image: np.ndarray) -> str:
    """sha256 of one stored image's pixels (C order), recorded per row for ``--verify``."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


#: root attribute: sha256 of every dataset other than the pixels (catalogue, labels, targets,
#: provenance, checksums), so ``--verify`` finds silent damage anywhere in the file
DATASET_CHECKSUMS_ATTR = "dataset_checksums"
_PIXEL_DATASETS = ("images", "original")


def dataset_digest(ds) -> str:
    """sha256 over a dataset's dtype, shape and values as stored (variable-length strings included)."""
    data = ds[()]
    h = hashlib.sha256(f"{ds.dtype}:{ds.shape}".encode())
    if isinstance(data, np.ndarray) and data.dtype.kind == "O":
        for value in data.ravel():
            h.update(value if isinstance(value, bytes) else str(value).encode("utf-8"))
            h.update(b"\0")
    else:
        h.update(np.ascontiguousarray(data).tobytes())
    return h.hexdigest()


def dataset_checksums(f: h5py.File) -> dict[str, str]:
    """``{name: dataset_digest}`` for every dataset of an open store except the pixel arrays."""
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return {name: dataset_digest(f[name]) for name in sorted(names) if name not in _PIXEL_DATASETS}


def store_fingerprint(pixel_hashes: Iterable[str], n: int, image_shape) -> str:
    """sha256 over the per-row pixel hashes, row count and schema: identifies a store's content."""
    h = hashlib.sha256(f"galcat-store:{SCHEMA_VERSION}:{n}:{tuple(image_shape)}".encode())
    for digest in pixel_hashes:
        h.update(bytes.fromhex(digest))
    return h.hexdigest()


def label_schemes_of(table: Table) -> dict[str, list[str]]:
    """Label columns to store as integer codes: ``meta['label_schemes']`` or known hubble columns."""
    schemes = table.meta.get("label_schemes")
    if schemes is None:
        schemes = {name: list(classes) for name, classes in SCHEMES.items() if name in table.colnames}
    out = {}
    for name, classes in dict(schemes).items():
        if name not in table.colnames:
            raise GalcatError(f"catalogue, column {name!r}: named in meta['label_schemes'] but missing")
        out[str(name)] = [str(c) for c in classes]
    return out


def _hdf5_safe_table(table: Table) -> Table:
    """A copy that astropy can serialise to HDF5: object columns become strings, meta plain JSON data."""
    out = Table(table, copy=True)
    for name in out.colnames:
        col = out[name]
        if col.dtype.kind == "O":
            values = ["" if v is None else str(v) for v in col]
            mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else None
            out[name] = np.ma.array(values, mask=mask) if mask is not None and mask.any() else values
    out.meta = json.loads(json.dumps(dict(table.meta), default=json_default))
    return out


def _vote_matrix(table: Table, columns: list[str]) -> np.ndarray:
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise GalcatError(f"catalogue, column {missing[0]!r}: named in meta['vote_columns'] but missing")
    votes = np.empty((len(table), len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        col = table[name]
        votes[:, j] = np.ma.filled(np.ma.asarray(col, dtype=np.float64), np.nan)
    return votes


def write_store_file(
    path: Path,
    catalogue: Table,
    image_shape: tuple[int, int, int],
    blocks: Iterator[np.ndarray],
    provenance: dict[str, np.ndarray],
    config_json: str,
    extra_attrs: dict | None = None,
    original_shape: tuple[int, int, int] | None = None,
    original_blocks: Iterator[np.ndarray] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    compression: str = DEFAULT_COMPRESSION,
) -> str:
    """Write a complete store to ``path`` (a fresh file) from row blocks; return its fingerprint.

    ``blocks`` yields consecutive uint8 arrays (k,H,W,3) covering all ``len(catalogue)`` rows.
    """
    from galcat import __version__

    n = len(catalogue)
    if n == 0:
        raise GalcatError("no images to store (0 rows)")
    chunk = (max(1, min(chunk_rows, n)), *image_shape)
    # "r+" keeps the space reserved by atomic_destination(reserve=...); a fresh path is created
    mode = "r+" if Path(path).exists() and h5py.is_hdf5(path) else "w"
    with h5py.File(path, mode) as f:
        images = f.create_dataset(
            "images",
            shape=(n, *image_shape),
            dtype=np.uint8,
            chunks=chunk,
            **compression_kwargs(compression),
        )
        images.attrs["dims"] = json.dumps(["galaxy", "y", "x", "band"])
        hashes = _write_blocks(images, blocks, n, check=True)
        f.create_dataset("checksums/pixels", data=np.array(hashes, dtype=object), dtype=_STR)
        if original_blocks is not None and original_shape is not None:
            original = f.create_dataset(
                "original",
                shape=(n, *original_shape),
                dtype=np.uint8,
                chunks=(1, *original_shape),
                **compression_kwargs(compression),
            )
            _write_blocks(original, original_blocks, n, check=False)
        _hdf5_safe_table(catalogue).write(f, path="catalogue", serialize_meta=True)
        for scheme, classes in label_schemes_of(catalogue).items():
            codes = encode(catalogue[scheme], classes)
            ds = f.create_dataset(
                f"labels/{scheme}", data=codes.astype(np.int16 if len(classes) < 32000 else np.int64)
            )
            ds.attrs["classes"] = json.dumps(classes)
        vote_columns = catalogue.meta.get("vote_columns")
        if vote_columns:
            ds = f.create_dataset("targets/votes", data=_vote_matrix(catalogue, list(vote_columns)))
            ds.attrs["columns"] = json.dumps(list(vote_columns))
        for key in ("source", "sha256", "status"):
            values = provenance.get(key)
            if values is None or len(values) != n:
                raise GalcatError(f"provenance {key!r} must have one entry per row ({n})")
            f.create_dataset(
                f"provenance/{key}", data=np.array([str(v) for v in values], dtype=object), dtype=_STR
            )
        fingerprint = store_fingerprint(hashes, n, image_shape)
        f.attrs["galcat_version"] = __version__
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["config"] = config_json
        f.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        f.attrs["fingerprint"] = fingerprint
        f.attrs["n_images"] = n
        for key, value in (extra_attrs or {}).items():
            f.attrs[key] = value
        f.attrs[DATASET_CHECKSUMS_ATTR] = json.dumps(dataset_checksums(f), sort_keys=True)
        f.attrs["complete"] = True
    return fingerprint


def _write_blocks(dataset, blocks: Iterator[np.ndarray], n: int, check: bool) -> list[str]:
    hashes: list[str] = []
    start = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.uint8)
        stop = start + len(block)
        if stop > n:
            raise GalcatError(f"more image rows than catalogue rows ({n})")
        dataset[start:stop] = block
        if check:
            hashes.extend(pixel_digest(img) for img in block)
        start = stop
    if start != n:
        raise GalcatError(f"{start} image rows written but the catalogue has {n} rows")
    return hashes


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def reserve_space(path: Path, size: int, name=None) -> None:
    """Allocate ``size`` bytes of ``path`` now (``posix_fallocate``), or GalcatError saying how much
    is needed and free, so a full disk is found before the work and writes into the file never
    fail half way (HDF5 trims an HDF5 file back to its real size when it is closed)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, max(1, int(size)))
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
            if shutil.disk_usage(path.parent).free >= size:  # no fallocate here: at least check room
                return
        free = shutil.disk_usage(path.parent).free
        raise GalcatError(
            f"{name or path}: needs {_fmt_bytes(size)} in {path.parent} but only {_fmt_bytes(free)} is free "
            "(or a file size limit applies); free space or choose another --out"
        ) from None
    finally:
        os.close(fd)


def estimate_store_bytes(catalogue: Table, image_shape, original_shape=None) -> int:
    """An upper bound on a store's size: uncompressed pixels (compression never grows them by more
    than a few per cent), the catalogue's columns, per-row provenance and checksums, plus slack."""
    n = len(catalogue)
    pixels = n * int(np.prod(image_shape)) + (n * int(np.prod(original_shape)) if original_shape else 0)
    table = sum(int(getattr(catalogue[c], "nbytes", 0) or 0) for c in catalogue.colnames)
    return int(pixels * 1.05 + 2 * table + n * 512 + 256 * 1024)


@contextlib.contextmanager
def atomic_destination(path: Path, overwrite: bool, reserve: int = 0):
    """Yield a hidden temporary path beside ``path``; on success rename it over ``path``.

    ``reserve`` > 0 makes the temporary an empty HDF5 file with that many bytes already allocated
    (see :func:`reserve_space`), which :func:`write_store_file` then fills.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise GalcatError(f"{path}: store exists; pass --overwrite (overwrite=True) to replace it")
    from galcat.paths import check_replaceable

    check_replaceable(path, "store")  # only a galcat store is replaced
    with atomic_path(path) as tmp:
        if reserve > 0:
            h5py.File(tmp, "w").close()
            reserve_space(tmp, reserve, name=path)
        yield tmp


def write_store(
    path,
    catalogue: Table,
    images: np.ndarray,
    config=None,
    overwrite: bool = False,
    provenance: dict | None = None,
    compression: str = DEFAULT_COMPRESSION,
) -> Path:
    """Write an in-memory catalogue + uint8 images (N,H,W,3) as a store, atomically; return the path."""
    from galcat.config import to_json

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise GalcatError(f"images must be uint8 (N,H,W,3); got {images.dtype} {images.shape}")
    if len(images) != len(catalogue):
        raise GalcatError(f"{len(images)} images but the catalogue has {len(catalogue)} rows")
    n = len(images)
    prov = {"source": ["memory"] * n, "sha256": [""] * n, "status": ["ok"] * n}
    prov.update(provenance or {})
    config_json = to_json(config) if config is not None else json.dumps({"builder": "write_store"})
    blocks = (images[i : i + 256] for i in range(0, n, 256))
    path = Path(path)
    with atomic_destination(path, overwrite) as tmp:
        write_store_file(tmp, catalogue, images.shape[1:], blocks, prov, config_json, compression=compression)
    return path
