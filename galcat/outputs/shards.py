"""Row-sharded inference under ``torchrun``: every rank computes a contiguous row range, rank 0 merges.

``torchrun --nproc_per_node N -m galcat embed ...`` (or ``classify``) starts N processes. Each one
computes the outputs of its own contiguous share of the store's rows and saves them, with the row
numbers, as a part file in a folder beside the output. After a barrier, rank 0 loads every part and
orders the rows by row number (never by arrival), so the merged arrays equal a one-process run. A
part file is written atomically and only once: a rerun after a crash or a killed rank recomputes
only the parts that are missing. A manifest ties the parts to the store, the model and the number
of ranks, so parts from another run are never mixed in.

A command with work that only one process may do first (``classify`` builds its target store on
rank 0) joins the group once with :func:`process_group` and runs that work through
:func:`main_rank_first`; :func:`sharded_compute` then reuses the group instead of leaving it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from galcat.atomic import atomic_path, atomic_write
from galcat.errors import GalcatError
from galcat.model.distributed import DistInfo, barrier, cleanup, setup

MANIFEST = "manifest.json"


@contextlib.contextmanager
def process_group(device: torch.device | None = None, timeout: timedelta | None = None) -> Iterator[DistInfo]:
    """torchrun's process group for the length of the block (one process: a disabled DistInfo).

    A group that is already joined is reused and left joined, so nested users share one group.
    """
    joined = dist.is_available() and dist.is_initialized()
    info = setup(device or torch.device("cpu"), timeout)
    try:
        yield info
    finally:
        if not joined:
            cleanup(info)


def main_rank_first(info: DistInfo, work: Callable[[], object], share: Callable[[object], object]):
    """``work()`` on rank 0 alone while the other ranks wait: ``(result, share(result))`` on rank 0,
    ``(None, share(result))`` elsewhere (``share`` must return something picklable).

    When ``work`` fails on rank 0 the other ranks raise a GalcatError with the same message instead
    of waiting for a result that never comes.
    """
    if not info.enabled:
        value = work()
        return value, share(value)
    if not info.is_main:
        message = [None]
        dist.broadcast_object_list(message, src=0)
        kind, payload = message[0]
        if kind == "error":
            raise GalcatError(payload)
        return None, payload
    try:
        value = work()
        shared = share(value)
    except BaseException as exc:
        text = str(exc) if isinstance(exc, GalcatError) else f"rank 0 failed: {type(exc).__name__}: {exc}"
        with contextlib.suppress(RuntimeError):  # the others are gone already: rank 0's error still stands
            dist.broadcast_object_list([("error", text)], src=0)
        raise
    dist.broadcast_object_list([("ok", shared)], src=0)
    return value, shared


def parts_dir_for(out) -> Path:
    """Where the part files of ``out`` live while a sharded run is unfinished."""
    out = Path(out)
    return out.with_name(f".{out.name}.parts")


def rank_rows(n_rows: int, info: DistInfo) -> np.ndarray:
    """This rank's contiguous share of ``range(n_rows)`` (shares differ in size by at most one row)."""
    return np.array_split(np.arange(n_rows, dtype=np.int64), max(info.world, 1))[info.rank]


def _part_path(parts: Path, rank: int, world: int) -> Path:
    return parts / f"part-{rank:05d}-of-{world:05d}.npz"


def _save_part(path: Path, rows: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, __rows__=rows, **arrays)


def _load_part(path: Path) -> dict[str, np.ndarray] | None:
    """A part's arrays, or None when it is missing, damaged or not a part (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return None
    return arrays if "__rows__" in arrays else None


def _prepare_parts(parts: Path, manifest: dict, info: DistInfo) -> None:
    """Rank 0 keeps parts whose manifest matches and starts afresh otherwise."""
    if info.rank == 0:
        path = parts / MANIFEST
        if parts.exists():
            try:
                same = json.loads(path.read_text()) == manifest
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(parts)
        parts.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            atomic_write(path, json.dumps(manifest, sort_keys=True))
    barrier(info)


def merge_parts(parts: Path, n_rows: int, world: int) -> dict[str, np.ndarray]:
    """Every part of a finished run, concatenated and put in row order; GalcatError if rows are missing."""
    loaded = []
    for rank in range(world):
        part = _load_part(_part_path(parts, rank, world))
        if part is None:
            raise GalcatError(f"{parts}: part {rank} of {world} is missing; rerun the same command")
        loaded.append(part)
    loaded = [p for p in loaded if len(p["__rows__"])]  # a rank with no rows saved no arrays
    rows = np.concatenate([p["__rows__"] for p in loaded]) if loaded else np.empty(0, np.int64)
    order = np.argsort(rows, kind="stable")
    if not np.array_equal(rows[order], np.arange(n_rows)):
        raise GalcatError(f"{parts}: the parts cover {len(np.unique(rows))} of {n_rows} rows")
    names = [name for name in loaded[0] if name != "__rows__"] if loaded else []
    return {name: np.concatenate([p[name] for p in loaded])[order] for name in names}


def sharded_compute(
    n_rows: int,
    compute: Callable[[np.ndarray], dict[str, np.ndarray]],
    out,
    manifest: dict,
    device: torch.device | None = None,
) -> dict[str, np.ndarray] | None:
    """``compute(rows)`` over all rows: directly in one process, or sharded across torchrun's ranks.

    Returns the merged arrays (row order) on rank 0 and ``None`` on the other ranks, which then have
    nothing left to do. ``manifest`` (JSON-able: store fingerprint, model, options) identifies the run;
    ``out`` is the output the parts are kept beside (``None``: never sharded).
    """
    if out is None:  # nothing to write parts beside: one process does all the rows
        return compute(np.arange(n_rows, dtype=np.int64))
    with process_group(device) as info:
        if not info.enabled:
            return compute(np.arange(n_rows, dtype=np.int64))
        parts = parts_dir_for(out)
        _prepare_parts(parts, {**manifest, "n_rows": int(n_rows), "world": info.world}, info)
        path = _part_path(parts, info.rank, info.world)
        expected = rank_rows(n_rows, info)
        done = _load_part(path) if path.exists() else None
        if done is None or not np.array_equal(done["__rows__"], expected):
            arrays = compute(expected) if len(expected) else {}
            _save_part(path, expected, {k: np.asarray(v) for k, v in arrays.items()})
        barrier(info)
        merged = merge_parts(parts, n_rows, info.world) if info.is_main else None
        barrier(info)
        return merged


def finish(out) -> None:
    """Remove the part files once the merged output is safely written."""
    shutil.rmtree(parts_dir_for(out), ignore_errors=True)
