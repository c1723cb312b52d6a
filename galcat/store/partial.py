"""The crash-safe half of a build: ``NAME.h5.partial`` plus an append-only journal.

Why this shape: HDF5 metadata is not crash safe, so the partial file is created once with all
of its datasets allocated up front (contiguous, uncompressed) and then only receives raw pixel
writes, which never touch HDF5 metadata; a SIGKILL can therefore not leave it unreadable.
Which rows are finished lives in a sidecar journal (``NAME.h5.partial.journal``, one JSON line
per row, appended only after that row's pixels were flushed, then fsync'ed). A torn last line is
ignored on resume, and a row whose pixels were written but not journaled is simply fetched again.

The partial's disk blocks are reserved when it is created (``posix_fallocate``), so a full disk is
found before the first download and pixel writes never fail half way; I/O errors that still occur
(the journal, a failing device) become a GalcatError that says the build can be resumed. One
writer per build: every change to the partial (create, resume, discard, ``--overwrite``) happens
under an exclusive lock on ``NAME.h5.partial.lock``.
"""

from __future__ import annotations

import errno
import json
import os
import re

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None
from pathlib import Path

import h5py
import numpy as np

from galcat.atomic import atomic_path, litter
from galcat.errors import GalcatError
from galcat.store.writer import reserve_space

OK_STATUSES = ("ok", "cached")
#: errnos meaning "the file system cannot hold this": the fix is space, not a different build
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def io_error(path, exc: BaseException, doing: str, resumable: bool = True) -> GalcatError:
    """A GalcatError naming ``path`` for an OS/HDF5 error while ``doing`` something to it."""
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    code = getattr(exc, "errno", None)
    if code is None:  # HDF5 reports the C errno inside its message: "errno = 28, error message = ..."
        found = re.search(r"errno = (\d+)", str(exc))
        code = int(found[1]) if found else None
    if code in _NO_SPACE:
        reason = "no space left on the device (or file size limit reached)"
    elif code is not None and getattr(exc, "strerror", None) is None:
        reason = os.strerror(code)
    hint = "; free space (or fix the device) and rerun the same command to resume" if resumable else ""
    return GalcatError(f"{path}: {doing} failed: {reason}{hint}")


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
        self._own_lock = False
        self.lockfile = Path(str(self.path) + ".lock")

    # -- lifecycle ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def create(self, n: int, image_shape, identity: dict, original_shape=None) -> None:
        """Create a fresh partial (discarding any old one) sized for ``n`` rows, its space reserved."""
        held = self.locked
        self.lock()
        try:
            self.discard()
            self._create(n, image_shape, identity, original_shape)
        finally:
            if not held:
                self.unlock()

    def _create(self, n: int, image_shape, identity: dict, original_shape) -> None:
        try:
            with atomic_path(self.path) as tmp:
                with h5py.File(tmp, "w") as f:
                    f.attrs["galcat_partial"] = True
                    f.attrs["identity"] = json.dumps(identity, sort_keys=True)
                    _allocated_dataset(f, "images", (n, *image_shape))
                    if original_shape is not None:
                        _allocated_dataset(f, "original", (n, *original_shape))
                reserve_space(tmp, tmp.stat().st_size, name=self.path)
            self.journal.write_bytes(b"")
            _fsync_path(self.journal)
        except (OSError, RuntimeError) as exc:
            self.discard()
            if isinstance(exc, OSError) and exc.errno not in _NO_SPACE and exc.errno is not None:
                raise
            raise io_error(self.path, exc, "creating the unfinished build", resumable=False) from None
        except GalcatError:
            self.discard()
            raise

    def identity(self) -> dict:
        """The identity recorded at creation (config + catalogue digest) of an existing partial."""
        try:
            with h5py.File(self.path, "r") as f:
                return json.loads(f.attrs["identity"])
        except (OSError, KeyError) as exc:
            raise GalcatError(
                f"{self.path}: unfinished build is unreadable ({exc}); rerun with --overwrite to restart"
            ) from None

    @property
    def locked(self) -> bool:
        return self._lock_fh is not None

    def lock(self) -> None:
        """Hold the build's exclusive lock (released by the OS if this process dies); idempotent.

        The lock file is removed when the lock is released, so after locking we check that the
        file we hold is still the one at the path (another build may have removed it meanwhile).
        """
        if self._lock_fh is not None or fcntl is None:
            return
        self.lockfile.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fh = open(self.lockfile, "a+")  # noqa: SIM115
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip()
                fh.close()
                raise GalcatError(
                    f"{self.path}: another build of this store is running"
                    + (f" (process {holder})" if holder else "")
                    + "; wait for it to finish (--overwrite does not stop a running build)"
                ) from None
            try:
                same = os.path.samestat(os.fstat(fh.fileno()), os.stat(self.lockfile))
            except FileNotFoundError:
                same = False
            if same:
                fh.seek(0)
                fh.truncate()
                fh.write(str(os.getpid()))
                fh.flush()
                self._lock_fh = fh
                return
            fh.close()
        raise GalcatError(f"{self.lockfile}: cannot take the build lock (it keeps being replaced)")

    def unlock(self) -> None:
        """Release the lock and remove its file (other builds check the file they lock is current)."""
        if self._lock_fh is None:
            return
        try:
            self.lockfile.unlink(missing_ok=True)
        finally:
            self._lock_fh.close()
            self._lock_fh = None

    def open(self) -> None:
        self._own_lock = not self.locked
        self.lock()
        self._repair_journal()
        try:
            self._file = h5py.File(self.path, "r+")
        except OSError as exc:  # HDF5 file locking: another build holds it, or it is damaged
            self._release_own_lock()
            raise GalcatError(
                f"{self.path}: cannot open the unfinished build ({str(exc).splitlines()[0]}); "
                "rerun with --overwrite to start again"
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
        """Close the HDF5 file and the journal; the first I/O error is raised after both are closed."""
        error = None
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except (OSError, RuntimeError) as exc:  # h5py flushes on close; a full disk fails here
                error = error or io_error(self.path, exc, "closing the unfinished build")
        if self._journal_fh is not None:
            fh, self._journal_fh = self._journal_fh, None
            try:
                fh.close()
            except OSError as exc:
                error = error or io_error(self.journal, exc, "closing the journal")
        self._release_own_lock()
        if error is not None:
            raise error

    def _release_own_lock(self) -> None:
        if getattr(self, "_own_lock", False):
            self._own_lock = False
            self.unlock()

    def discard(self) -> None:
        """Delete the partial and its journal, under the lock (never under a running build)."""
        self.close()
        held = self.locked
        self.lock()
        try:
            for p in (self.path, self.journal, *litter(self.path)):
                p.unlink(missing_ok=True)
        finally:
            if not held:
                self.unlock()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
            return
        try:  # an error is already on its way: close quietly rather than mask it
            self.close()
        except GalcatError:
            pass

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
        try:
            self._file.flush()
            _fsync_fd(self._file.id.get_vfd_handle())
        except (OSError, RuntimeError) as exc:
            raise io_error(self.path, exc, "writing pixels") from None
        try:
            self._journal_fh.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
            self._journal_fh.flush()
            os.fsync(self._journal_fh.fileno())
        except OSError as exc:  # a torn last line is cut on resume; those rows are fetched again
            raise io_error(self.journal, exc, "writing the journal") from None

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
