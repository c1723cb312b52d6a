"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Every writer in galcat goes through here: the bytes land in a hidden temporary file beside the
destination (same file system, so :func:`os.replace` is atomic), which is renamed over the
destination only when the write finished. The temporary file is created by an ordinary
``open``, so the result has the mode any other new file of the user would get (0o666 minus
the umask), unlike :func:`tempfile.mkstemp`'s private 0o600.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: prefix of the temporary files; ``litter(path)`` finds the ones a crash left behind
TEMP_PREFIX = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name beside ``path`` that keeps its suffixes (writers infer formats from them)."""
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")


def litter(path: str | os.PathLike) -> list[Path]:
    """Temporary files of ``path`` left behind by a process that died while writing it."""
    path = Path(path)
    return sorted(path.parent.glob(f"{TEMP_PREFIX}*-{path.name}"))


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for writers that want a file name
    (``torch.save``, ``Table.write``, ``h5py.File``, ``savefig``); rename it over ``path`` on success.

    The temporary file does not exist yet; the writer creates it. On an exception it is removed
    and ``path`` is left as it was. ``fsync`` makes the content durable before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer did not create the file")
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns the path."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    path = Path(path)
    with atomic_path(path, fsync=False) as tmp:
        with open(tmp, "xb") as fh:
            fh.write(payload)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return path
