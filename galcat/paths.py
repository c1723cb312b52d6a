"""Output paths checked once, the same way by every command, before any work is done.

Two classes of mistakes lose data or hours: an output that is one of the command's own inputs
(``--out`` naming the store being read, the catalogue, or a checkpoint), and an output in a place
that cannot be written (a read-only mount or folder), found only after the work. Both are a
:class:`~galcat.errors.GalcatError` naming the path and the option.
"""

from __future__ import annotations

import os
from pathlib import Path

from galcat.errors import GalcatError


def _resolved(path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path)))).resolve()


def same_path(a, b) -> bool:
    """True when ``a`` and ``b`` name the same file or folder (links, ``..`` and hard links included)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return _resolved(a) == _resolved(b)


def is_within(path, folder) -> bool:
    """True when ``path`` is ``folder`` or lies somewhere below it."""
    path, folder = _resolved(path), _resolved(folder)
    return path == folder or folder in path.parents


def refuse_overwriting_inputs(outputs: dict[str, object], inputs: dict[str, object]) -> None:
    """GalcatError when an output path (``{option: path}``) is one of the inputs (``{option: path}``).

    Inputs that are not local paths (``None``, URLs) are ignored.
    """
    for out_option, out in outputs.items():
        if out is None:
            continue
        for in_option, source in inputs.items():
            if source is None or "://" in str(source):
                continue
            if same_path(out, source):
                raise GalcatError(
                    f"{out}: {out_option} is the same file as {in_option} ({source}); "
                    "a command never writes over its own input, choose another output path"
                )


def check_writable(out, option: str = "--out") -> None:
    """GalcatError when ``out`` cannot be created: its nearest existing folder is not writable.

    ``os.access`` also sees read-only mounts (EROFS), which stop even the superuser.
    """
    target = _resolved(out)
    if target.exists() and not os.access(target, os.W_OK):
        raise GalcatError(f"{out}: {option} is not writable (read-only file or folder)")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise GalcatError(f"{out}: {option} cannot be created: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GalcatError(f"{out}: {option} cannot be written: {folder} is read-only")
