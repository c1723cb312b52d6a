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


def check_writable(out, option: str = "--out", kind: str | None = None) -> None:
    """GalcatError when ``out`` cannot be created: its nearest existing folder is not writable, or
    (``kind`` ``file`` / ``folder``) it exists as the other kind of thing.

    ``os.access`` also sees read-only mounts (EROFS), which stop even the superuser.
    """
    if kind is not None:
        check_kind(out, kind, option)
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


def check_kind(out, kind: str, option: str = "--out") -> None:
    """GalcatError when ``out`` exists as the wrong kind of thing: ``kind`` is ``file`` (a table, a
    store) or ``folder`` (a report, a run, a HATS collection). Checked before any work starts."""
    path = Path(out)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise GalcatError(f"{out}: {option} is a file, but it names a folder here; choose another path")
    if kind == "file" and path.is_dir():
        raise GalcatError(f"{out}: {option} is a folder, but it names a file here; choose another path")


def table_kind(path) -> str:
    """``folder`` for a HATS collection (``*.hats``), else ``file``."""
    return "folder" if str(path).lower().rstrip("/").endswith(".hats") else "file"


def galcat_output(path) -> str | None:
    """What galcat output ``path`` is (``hats``, ``store``, ``run``, ``report``), or None when
    galcat did not write it: ``--overwrite`` replaces only these."""
    path = Path(path)
    if path.is_symlink():
        return None
    if path.is_dir():
        if (path / "galcat_columns.json").is_file() and (path / "collection.properties").exists():
            return "hats"
        if (path / "config.json").is_file() and any(path.glob("fold*")):
            return "run"
        if any((path / name).is_file() for name in ("metrics.json", "summary.json", "audit.json")):
            return "report"
        return None
    if path.is_file() and path.suffix.lower() in (".h5", ".hdf5"):
        try:
            import h5py

            with h5py.File(path, "r") as f:
                return "store" if "schema_version" in f.attrs and "images" in f else None
        except (OSError, ValueError):
            return None
    return None


def check_table_output(out, overwrite: bool, option: str = "--out") -> None:
    """A table output (a file, or a ``*.hats`` folder) that can be written, of the right kind, and
    with ``overwrite`` replacing only a HATS collection galcat wrote."""
    kind = table_kind(out)
    check_writable(out, option, kind=kind)
    if overwrite and kind == "folder":
        check_replaceable(out, "hats", option)


def check_replaceable(out, wanted: str, option: str = "--out") -> None:
    """With ``--overwrite``: GalcatError unless ``out`` is absent or the galcat ``wanted`` output
    (``hats``, ``store``); a user's own folder or file is never deleted to make room."""
    path = Path(out)
    if not path.exists() and not path.is_symlink():
        return
    found = galcat_output(path)
    if found != wanted:
        what = "a link" if path.is_symlink() else ("a folder" if path.is_dir() else "a file")
        raise GalcatError(
            f"{out}: {option} is {what} that galcat did not write as a {wanted} "
            f"({'a galcat ' + found if found else 'not recognised'}); --overwrite replaces only galcat's own "
            f"{wanted} outputs, so move it away or choose another path"
        )
