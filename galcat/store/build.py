"""Build a store from a catalogue and a pixel source, resumably.

Policy (documented in the report and ``galcat build --help``):

* The store holds only rows whose fetch status is ``ok`` or ``cached``, in catalogue order
  (after ``exclude`` then ``limit``). ``blank`` and ``failed`` rows are not galaxies of the store:
  they are listed in ``NAME.failures.ecsv`` beside it and counted in the summary and in the
  store's ``build_summary`` attribute.
* Work goes to ``NAME.h5.partial`` + journal (see :mod:`galcat.store.partial`); rerunning the same
  build resumes (rows journaled as ``failed`` are retried); a different config is an error unless
  ``overwrite``. Only a finished build is renamed to ``NAME.h5``; an existing store is replaced
  only with ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from galcat.atomic import litter
from galcat.catalogues.select import select_rows
from galcat.config import to_dict, to_json
from galcat.errors import GalcatError
from galcat.images.result import failures_path
from galcat.paths import check_replaceable, check_writable, refuse_overwriting_inputs
from galcat.ranges import bound, check_numbers
from galcat.store.partial import OK_STATUSES, PartialBuild, io_error
from galcat.store.preprocess import PreprocessConfig, as_rgb_uint8, preprocess
from galcat.store.recovery import (
    built_identity,
    finish_leftover,
    finished_summary,
    with_resume_hint,
    write_failures,
)
from galcat.store.writer import (
    CHUNK_ROWS,
    DEFAULT_COMPRESSION,
    atomic_destination,
    compression_kwargs,
    estimate_store_bytes,
    pixel_digest,
    write_store_file,
)
from galcat.tables import clean_text

#: test hook: seconds to sleep after each fetched row, so a kill test can interrupt a small build
DELAY_ENV = "GALCAT_BUILD_TEST_DELAY"
#: fields that do not change the store's content, so they may differ when resuming
_RUNTIME_FIELDS = ("workers", "flush_every", "overwrite", "chunk_rows", "compression")


@dataclass
class BuildConfig:
    """Everything that determines a store's content (recorded as the store's ``config``)."""

    name: str = ""  #: data set name (efigi, rsa, gz2, folder, ...)
    catalogue: str | None = None  #: catalogue file the rows came from (provenance only)
    images: str | None = None  #: local image archive, if any
    service: str | None = None  #: remote pixel service (skyserver, hips2fits, legacysurvey), if any
    release: int | None = None
    scale: float | None = None
    pixels: int | None = None
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)  #: crop and resize
    labels: str = "rule"  #: how the catalogue reader labelled the rows: rule | paper
    paper_labels: str | None = None  #: the paper's label table for ``labels="paper"``
    resolver: str | None = None  #: name resolver that gave the positions, if any
    id_column: str | None = None  #: reader override of the id column
    label_column: str | None = None  #: reader override of the label column
    keep_original: bool = False
    present_only: bool = False  #: local archive: build only rows that have an image file
    limit: int | None = None
    exclude: str | None = None  #: catalogue whose objects were removed (provenance only)
    exclude_radius_arcsec: float = 5.0
    source_options: dict = field(default_factory=dict)
    workers: int = 4
    chunk_rows: int = CHUNK_ROWS  #: images per HDF5 chunk of the final store (layout only)
    compression: str = DEFAULT_COMPRESSION  #: images codec of the final store, see COMPRESSIONS (layout only)
    flush_every: int = 32
    overwrite: bool = False


#: ranges of the preprocessing fields (``--size`` as every image side: 100000 px would reserve terabytes)
_PREPROCESS_RANGES = {
    "size": bound("image_side"),
    "crop": {"low": 0, "high": 100_000, "integer": True},
    "crop_reference": {"low": 1, "integer": True, "option": "crop_reference"},
}
#: ranges of the other numeric fields
_CONFIG_RANGES = {
    "pixels": bound("cutout_pixels", allow_none=True),
    "release": bound("data_release", allow_none=True),
    "scale": bound("positive", allow_none=True),
    "limit": {"low": 1, "integer": True, "allow_none": True},
    "exclude_radius_arcsec": bound("radius_arcsec", option="exclude_radius_arcsec"),
    "workers": bound("workers"),
    "chunk_rows": {"low": 1, "high": 4096, "integer": True, "option": "chunk_rows"},
    "flush_every": {"low": 1, "integer": True, "option": "flush_every"},
}


def check_build_config(config: BuildConfig) -> None:
    """GalcatError naming the option for any value out of range (before any work starts)."""
    check_numbers(config.preprocess, _PREPROCESS_RANGES)
    check_numbers(config, _CONFIG_RANGES)
    compression_kwargs(config.compression)


@dataclass
class BuildSummary:
    out: Path
    n_rows: int  #: catalogue rows considered (after exclude and limit)
    n_stored: int
    status_counts: dict
    failures_path: Path | None
    fingerprint: str
    resumed_rows: int  #: rows already finished by an earlier, interrupted run
    excluded: int  #: rows dropped because they are in the ``exclude`` catalogue
    not_in_archive: int  #: rows dropped by ``present_only``
    seconds: float
    no_image_file: int = 0  #: local archive: rows kept and reported as failed (no image file)

    @property
    def n_failed(self) -> int:
        return self.n_rows - self.n_stored


def _catalogue_digest(table: Table) -> str:
    """Identifies the rows being fetched: a resumed build must see the same rows in the same order."""
    h = hashlib.sha256(str(len(table)).encode())
    key = table.meta.get("image_key", "objid")
    for name in dict.fromkeys(c for c in ("objid", key, "ra", "dec") if c in table.colnames):
        h.update(name.encode())
        h.update(
            np.asarray(np.ma.filled(table[name], 0) if np.ma.isMaskedArray(table[name]) else table[name])
            .astype(str)
            .tobytes()
        )
    return h.hexdigest()


def _identity(table: Table, config: BuildConfig) -> dict:
    cfg = {k: v for k, v in to_dict(config).items() if k not in _RUNTIME_FIELDS}
    return {"config": cfg, "catalogue": _catalogue_digest(table)}


def _identity_digest(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def build_store(
    catalogue: Table,
    source,
    out,
    config: BuildConfig | None = None,
    exclude: Table | None = None,
    reuse_finished: bool = False,
) -> BuildSummary:
    """Fetch, preprocess and store every row of ``catalogue``; resumable after a crash.

    The whole build runs under the partial's lock, so a second build of the same ``out`` (with or
    without ``overwrite``) stops at once instead of deleting the first one's work. An existing store
    is an error without ``overwrite``; with ``reuse_finished`` (a caller that keeps its store, such
    as ``classify --keep-store``) an existing store of this very build is returned as it is.
    """
    config = config or BuildConfig()
    check_build_config(config)  # bad values fail now, not after the downloads
    out = Path(out)
    start_time = time.monotonic()
    part = PartialBuild(out)
    check_build_paths(out, config)
    reusable = reuse_finished and built_identity(out) is not None
    if out.exists() and not config.overwrite and not part.exists() and not reusable:
        raise GalcatError(f"{out}: store exists; pass --overwrite to replace it")
    part.lock()
    try:
        table, dropped = select_rows(
            catalogue, source=source, present_only=config.present_only, exclude=exclude,
            exclude_radius_arcsec=config.exclude_radius_arcsec, limit=config.limit,
        )  # fmt: skip
        identity = _identity(table, config)
        if out.exists() and not config.overwrite:
            finished = _finish_leftover(part, identity, start_time)
            same = reusable and not part.exists() and built_identity(out) == _identity_digest(identity)
            if finished is None and same:
                finished = _summary_of(out, start_time)  # this very build, finished by an earlier run
            if finished is not None:
                return finished
            other = " and holds another build (other rows or settings)" if reusable else ""
            raise GalcatError(f"{out}: store exists{other}; pass --overwrite to replace it")
        return _build_locked(part, table, source, config, dropped, identity, start_time)
    finally:
        part.unlock()


def _image_shape(config: BuildConfig) -> tuple[int, int, int]:
    return (config.preprocess.size, config.preprocess.size, 3)


def check_build_paths(out: Path, config: BuildConfig) -> None:
    """GalcatError when an output of the build is one of its inputs, or cannot be written."""
    part = PartialBuild(out)
    outputs = {"--out": out, "--out (.partial)": part.path, "--out (failures list)": failures_path(out)}
    inputs = {"--catalogue": config.catalogue, "--images": config.images, "--exclude": config.exclude}
    refuse_overwriting_inputs(outputs, inputs)
    check_writable(out, kind="file")
    if config.overwrite:
        check_replaceable(out, "store")


def _build_locked(part, table, source, config, dropped, identity, start_time) -> BuildSummary:
    n = len(table)
    if part.exists() and _partial_identity(part, config.overwrite) != identity:
        if not config.overwrite:
            raise GalcatError(
                f"{part.path}: an unfinished build with a different config or catalogue exists; "
                "rerun the original command to resume it, or pass --overwrite to start again"
            )
        part.discard()
    if not part.exists():
        original_shape = _probe_original_shape(source, table) if config.keep_original else None
        part.create(n, _image_shape(config), identity, original_shape)
    try:
        with part:
            records = part.records()
            resumed = sum(1 for r in records.values() if r["status"] != "failed")
            todo = [i for i in range(n) if records.get(i, {}).get("status", "failed") == "failed"]
            if todo:
                _fetch_into(part, source, table, todo, config)
            records = part.records()
    except GalcatError as exc:
        raise with_resume_hint(exc, part, n) from None
    missing = [i for i in range(n) if i not in records]
    if missing:
        raise GalcatError(f"{part.path}: rows {missing[:5]} were not fetched; rerun to resume")
    return _finalise(part, table, records, config, dropped, resumed, start_time)


def _summary_of(out: Path, start_time: float) -> BuildSummary:
    """The summary of a finished store, for a rerun of the same build that has nothing to do."""
    return _summary(out, *finished_summary(out), start_time)


def _finish_leftover(part: PartialBuild, identity: dict, start_time: float) -> BuildSummary | None:
    """The store's summary if a leftover .partial shows it is this very build, finished by an earlier
    run that crashed before cleaning up (see :func:`galcat.store.recovery.finish_leftover`)."""
    done = finish_leftover(part, _identity_digest, identity)
    if done is None:
        return None
    summary, fingerprint, failures = done
    return _summary(part.out, summary, fingerprint, failures, start_time)


def _summary(out: Path, summary: dict, fingerprint: str, failures, start_time: float) -> BuildSummary:
    return BuildSummary(
        out=out,
        n_rows=int(summary.get("n_rows", 0)),
        n_stored=int(summary.get("n_stored", 0)),
        status_counts=dict(summary.get("status_counts", {})),
        failures_path=failures,
        fingerprint=fingerprint,
        resumed_rows=int(summary.get("n_rows", 0)),
        excluded=int(summary.get("excluded", 0)),
        not_in_archive=int(summary.get("not_in_archive", 0)),
        seconds=time.monotonic() - start_time,
        no_image_file=int(summary.get("no_image_file", 0)),
    )


def _partial_identity(part: PartialBuild, overwrite: bool) -> dict | None:
    """The identity of an existing partial; an unreadable one is restarted only with overwrite."""
    try:
        return part.identity()
    except GalcatError:
        if overwrite:
            return None
        raise


def _probe_original_shape(source, table: Table):
    for i in range(len(table)):
        res = source.fetch(i, table[i])
        if res.status in OK_STATUSES and res.image is not None:
            return as_rgb_uint8(res.image).shape
    raise GalcatError("keep_original: no row could be fetched, so the original image size is unknown")


def _fetch_into(part: PartialBuild, source, table: Table, todo: list[int], config: BuildConfig) -> None:
    from galcat.images import fetch_many

    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    subset = table[todo]
    pending: list[dict] = []
    last_commit = time.monotonic()
    try:
        # fetch_many shows its own progress bar (counts of ok/cached/blank/failed)
        for res in fetch_many(source, subset, config.workers, description=f"build {part.out.name}"):
            row = todo[int(res.row_index)]
            pending.append(_write_row(part, row, res, table, config))
            if delay:
                time.sleep(delay)
            if len(pending) >= config.flush_every or time.monotonic() - last_commit > 5:
                part.commit(pending)
                pending, last_commit = [], time.monotonic()
    finally:
        part.commit(pending)


def _write_row(part: PartialBuild, row: int, res, table: Table, config: BuildConfig) -> dict:
    objid = clean_text(table["objid"][row]) if "objid" in table.colnames else str(row)
    if clean_text(res.objid) != objid and "objid" in table.colnames:
        raise GalcatError(f"image source returned object {res.objid!r} for row {row} ({objid!r})")
    rec = {
        "row": row,
        "objid": objid,
        "status": str(res.status),
        "sha256": res.sha256 or "",
        "origin": str(res.origin or ""),
        "error": str(res.error or ""),
        "pixels": "",
    }
    if res.status in OK_STATUSES:
        if res.image is None:
            rec.update(status="failed", error="source reported success without pixels")
            return rec
        raw = as_rgb_uint8(res.image)
        image = preprocess(raw, config.preprocess)
        try:
            part.images[row] = image
        except (OSError, RuntimeError) as exc:
            raise io_error(part.path, exc, f"writing row {row}") from None
        if part.original is not None:
            if raw.shape != part.original.shape[1:]:
                raise GalcatError(
                    f"row {row} ({objid}): image is {raw.shape}, but --keep-original needs every image "
                    f"to be {part.original.shape[1:]}"
                )
            part.original[row] = raw
        rec["pixels"] = pixel_digest(image)
    return rec


def _finalise(part, table, records, config, dropped, resumed, start_time) -> BuildSummary:
    n = len(table)
    ok_rows = np.array([i for i in range(n) if records[i]["status"] in OK_STATUSES], dtype=np.int64)
    counts = Counter(records[i]["status"] for i in range(n))
    if len(ok_rows) == 0:  # every row failed and would be fetched again: nothing worth keeping
        listed = write_failures(part.out, records)
        part.discard()
        raise GalcatError(
            f"{part.out}: no row was fetched successfully ({dict(counts)}); nothing stored "
            f"(rows listed in {listed})"
        )
    identity_digest = _identity_digest(part.identity())
    for path in litter(part.out):  # from a crash while finalising
        path.unlink(missing_ok=True)
    # the failures list goes first: a crash after the rename below must not lose it
    failures = write_failures(part.out, records)
    try:
        fingerprint = _write_final(part, table, records, ok_rows, counts, config, dropped, identity_digest)
    except (OSError, RuntimeError) as exc:  # a full disk or I/O error: the partial is intact
        raise io_error(part.out, exc, "writing the finished store") from None
    except GalcatError as exc:
        raise GalcatError(f"{exc}; every fetched row is kept in {part.path}: rerun to finish") from None
    part.discard()
    return BuildSummary(
        out=part.out,
        n_rows=n,
        n_stored=len(ok_rows),
        status_counts=dict(counts),
        failures_path=failures,
        fingerprint=fingerprint,
        resumed_rows=resumed,
        excluded=dropped["excluded"],
        not_in_archive=dropped["not_in_archive"],
        seconds=time.monotonic() - start_time,
        no_image_file=dropped["no_image_file"],
    )


def _write_final(part, table, records, ok_rows, counts, config, dropped, identity_digest) -> str:
    """Copy the finished rows from the partial into the final store (temp file + atomic rename)."""
    n = len(table)
    with part as src:
        has_original = src.original is not None

        def blocks(dataset, check):
            for start in range(0, len(ok_rows), 256):
                rows = ok_rows[start : start + 256]
                block = np.stack([dataset[int(r)] for r in rows])
                if check:
                    for r, img in zip(rows, block, strict=True):
                        if pixel_digest(img) != records[int(r)]["pixels"]:
                            raise GalcatError(f"{part.path}: row {r} pixels do not match the journal")
                yield block

        provenance = {
            "source": [records[int(i)]["origin"] for i in ok_rows],
            "sha256": [records[int(i)]["sha256"] for i in ok_rows],
            "status": [records[int(i)]["status"] for i in ok_rows],
        }
        summary_attr = {
            "n_rows": n,
            "n_stored": len(ok_rows),
            "status_counts": dict(counts),
            **dropped,
        }
        reserve = estimate_store_bytes(
            table[ok_rows], _image_shape(config), src.original.shape[1:] if has_original else None
        )
        with atomic_destination(part.out, overwrite=True, reserve=reserve) as tmp:
            fingerprint = write_store_file(
                tmp,
                table[ok_rows],
                _image_shape(config),
                blocks(src.images, True),
                provenance,
                to_json(config),
                extra_attrs={
                    "build_summary": json.dumps(summary_attr),
                    "build_identity": identity_digest,
                },
                original_shape=tuple(src.original.shape[1:]) if has_original else None,
                original_blocks=blocks(src.original, False) if has_original else None,
                chunk_rows=config.chunk_rows,
                compression=config.compression,
            )
    return fingerprint
