"""What a build leaves behind when it stops early, and how the next run deals with it.

A build can stop at any step: a network or disk error while fetching (the ``.partial`` and its
journal are kept, and the error says how to resume or start again, or they are removed when no
row was finished), or a crash between renaming the finished store into place and removing the
``.partial`` (the next run of the same command finishes the cleanup, rewriting the failures list
from the journal if the crash lost it, and reports the store as built).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py

from galcat.errors import GalcatError
from galcat.images import result
from galcat.images.result import failures_path
from galcat.store.partial import OK_STATUSES, PartialBuild


def with_resume_hint(exc: GalcatError, part: PartialBuild, n: int) -> GalcatError:
    """The error plus what happens to the unfinished build: removed if empty, else how to resume."""
    records = part.records()
    failed = sum(1 for r in records.values() if r["status"] == "failed")  # a rerun fetches these again
    finished = len(records) - failed  # stored, or final without an image (blank)
    if finished == 0:
        part.discard()
        tried = f"; {failed} rows failed" if failed else ""
        return type(exc)(f"{exc} (no row was finished{tried}, so no unfinished build was kept)")
    size = part.path.stat().st_size / 1e6 if part.exists() else 0.0
    return type(exc)(
        f"{exc}; the unfinished build ({finished} of {n} rows finished, {failed} failed, "
        f"{n - finished - failed} not tried) is kept in {part.path} ({size:.0f} MB): "
        "rerun the same command to resume, or pass --overwrite to start again"
    )


def built_identity(out: Path) -> str | None:
    """The ``build_identity`` digest a finished galcat build records in its store, or None."""
    try:
        with h5py.File(out, "r") as f:
            return str(f.attrs["build_identity"]) if "build_identity" in f.attrs else None
    except (OSError, ValueError):
        return None


def finished_summary(out: Path) -> tuple[dict, str, Path | None]:
    """``(build_summary, fingerprint, failures list or None)`` recorded with a finished store."""
    with h5py.File(out, "r") as f:
        summary = json.loads(f.attrs.get("build_summary", "{}"))
        fingerprint = str(f.attrs.get("fingerprint", ""))
    failures = failures_path(out)
    return summary, fingerprint, failures if failures.exists() else None


def finish_leftover(part: PartialBuild, digest, identity: dict):
    """Clean up after a crash just after the final rename; ``(summary, fingerprint, failures)`` or None.

    The .partial is recognised as finished when the store's ``build_identity`` is the digest of the
    partial's identity; a .partial of another, unfinished build is left alone. The summary is
    returned only when that build is the one being run now (``identity``).
    """
    if not part.exists():
        return None
    try:
        with h5py.File(part.out, "r") as f:
            finished = str(f.attrs.get("build_identity", ""))
            summary = json.loads(f.attrs.get("build_summary", "{}"))
            fingerprint = str(f.attrs.get("fingerprint", ""))
        recorded = part.identity()
    except (OSError, GalcatError, ValueError):
        return None
    if finished != digest(recorded):
        return None
    failures = failures_path(part.out)
    if not failures.exists():
        failures = write_failures(part.out, part.records())
    part.discard()
    if recorded != identity:
        return None
    return summary, fingerprint, failures


def write_failures(out: Path, records: dict) -> Path | None:
    """``NAME.failures.ecsv``: every journaled row that is not in the store (blank or failed)."""
    bad = [rec for _, rec in sorted(records.items()) if rec["status"] not in OK_STATUSES]
    meta = {"store": out.name, "policy": "rows not stored: blank or failed fetches"}
    return result.write_failures(failures_path(out), bad, meta)
