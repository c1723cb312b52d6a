"""The crash-safe half of a build: ``NAME.h5.partial`` plus an append-only journal.

Why this shape: HDF5 metadata is not crash safe, so the partial file is created once with all
of its datasets allocated up front (contiguous, uncompressed) and then only receives raw pixel
writes, which never touch HDF5 metadata; a SIGKILL can therefore not leave it unreadable.
Which rows are finished lives in a sidecar journal (``NAME.h5.partial.journal``, one JSON line
per row, appended only after that row's pixels were flushed, then fsync'ed). A torn last line is
ignored on resume, and a row whose pixels were written but not journaled is simply fetched again.
"""

from __future__ import annotations

import json
import os

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None
from pathlib import Path

import h5py
import numpy as np

from galcat.atomic import atomic_path
from galcat.errors import GalcatError

OK_STATUSES = ("ok", "cached")


def partial_path(out: Path) -> Path:
    return Path(str(out) + ".partial")


def journal_path(out: Path) -> Path:
    return Path(str(out) + ".partial.journal")


def _allocated_dataset(f: h5py.File, name: str, shape: tuple[int, ...]):
    """A contiguous uint8 dataset whose storage exists from creation (no later metadata writes)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    return f.create_dataset(name, shape=shape, dtype=np.uint8, dcpl=dcpl)


class PartialBuild:
    """An unfinished build of ``out``: pixel slots for every catalogue row, and the journal."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = partial_path(self.out)
        self.journal = journal_path(self.out)
        self._file: h5py.File | None = None
        self._journal_fh = None
        self._lock_fh = None
        self.lockfile = Path(str(self.path) + ".lock")

    # -- lifecycle ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def create(self, n: int, image_shape, identity: dict, original_shape=None) -> None:
        """Create a fresh partial (discarding any old one) sized for ``n`` rows."""
        self.discard()
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["galcat_partial"] = True
            f.attrs["identity"] = json.dumps(identity, sort_keys=True)
            _allocated_dataset(f, "images", (n, *image_shape))
            if original_shape is not None:
                _allocated_dataset(f, "original", (n, *original_shape))
        self.journal.write_bytes(b"")
        _fsync_path(self.journal)

    def identity(self) -> dict:
        """The identity recorded at creation (config + catalogue digest) of an existing partial."""
        try:
            with h5py.File(self.path, "r") as f:
                return json.loads(f.attrs["identity"])
        except (OSError, KeyError) as exc:
            raise GalcatError(
                f"{self.path}: unfinished build is unreadable ({exc}); rerun with --overwrite to restart"
            ) from None

    def _lock(self) -> None:
        """One writer per build: an exclusive flock on ``.partial.lock`` (released by the OS on a crash)."""
        if fcntl is None:  # pragma: no cover - non-POSIX
            return
        self._lock_fh = open(self.lockfile, "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            self._lock_fh = None
            raise GalcatError(f"{self.path}: another build of this store is running") from None

    def open(self) -> None:
        self._lock()
        self._repair_journal()
        try:
            self._file = h5py.File(self.path, "r+")
        except OSError as exc:  # HDF5 file locking: another build holds it, or it is damaged
            raise GalcatError(
                f"{self.path}: cannot open the unfinished build ({exc}); is another build of it running?"
            ) from None
        self._journal_fh = open(self.journal, "a", encoding="utf-8")  # noqa: SIM115

    def _repair_journal(self) -> None:
        """Cut a torn last line (a crash mid-append) so new records start on a fresh line."""
        if not self.journal.exists():
            return
        data = self.journal.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.journal, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
                os.fsync(fh.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        if self._lock_fh is not None:
            self._lock_fh.close()  # releases the flock
            self._lock_fh = None

    def discard(self) -> None:
        self.close()
        for p in (self.path, self.journal, self.lockfile):
            if p.exists():
                p.unlink()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- rows --------------------------------------------------------------------------------
    @property
    def images(self):
        return self._file["images"]

    @property
    def original(self):
        return self._file["original"] if "original" in self._file else None

    def commit(self, records: list[dict]) -> None:
        """Make written pixels durable, then journal their rows (order matters for resume)."""
        if not records:
            return
        self._file.flush()
        _fsync_fd(self._file.id.get_vfd_handle())
        self._journal_fh.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
        self._journal_fh.flush()
        os.fsync(self._journal_fh.fileno())

    def records(self) -> dict[int, dict]:
        """Finished rows from the journal (last record per row wins; a torn last line is skipped)."""
        out: dict[int, dict] = {}
        if not self.journal.exists():
            return out
        with open(self.journal, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                out[int(rec["row"])] = rec
        return out


def _fsync_fd(handle) -> None:
    try:
        os.fsync(int(handle))
    except (OSError, TypeError, ValueError):  # pragma: no cover - exotic VFDs
        pass


def _fsync_path(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
