"""Typed configs (dataclasses) saved as JSON beside every store, run and report.

Every artefact carries the config that made it and the galcat version, so any number can be
traced back to the command that produced it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from galcat.atomic import atomic_write

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """Convert a (nested) dataclass into JSON-able plain data; Paths become strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any) -> str:
    """JSON text of a config, with the galcat version added at the top level."""
    from galcat import __version__

    data = to_dict(obj)
    if isinstance(data, dict):
        data = {"galcat_version": __version__, **data}
    return json.dumps(data, indent=2, sort_keys=False, default=json_default)


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for galcat's values: numpy scalars and arrays as numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def from_dict(cls: type[T], data: dict) -> T:
    """Build dataclass ``cls`` from a dict, ignoring unknown keys (e.g. ``galcat_version``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def save_config(obj: Any, path: str | os.PathLike) -> Path:
    """Save a dataclass config as JSON (atomically) and return the path."""
    atomic_write(path, to_json(obj) + "\n")
    return Path(path)


def load_config(cls: type[T], path: str | os.PathLike) -> T:
    """Load a dataclass config saved by :func:`save_config`, checked against the dataclass schema.

    Not JSON, not a JSON object, a missing required field or a value of the wrong type is a
    GalcatError naming the file and the field (value ranges are the config's own checks).
    """
    from galcat.errors import GalcatError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GalcatError(
            f"{path}: not a readable JSON config ({' '.join(str(exc).split())[:160]})"
        ) from None
    if not isinstance(data, dict):
        raise GalcatError(f"{path}: a config must be a JSON object, not a {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in data:
            if required:
                raise GalcatError(f"{path}: config field {f.name!r} is missing")
            continue
        if not _fits(data[f.name], hints.get(f.name, Any)):
            raise GalcatError(
                f"{path}: config field {f.name!r} = {data[f.name]!r} is not of type {hints.get(f.name)}"
            )
    return from_dict(cls, data)


def _fits(value: Any, hint: Any) -> bool:
    """True when a JSON value matches a dataclass field annotation (str, int, float, bool, lists,
    dicts, and ``X | None``); ints are accepted for floats, bools never for numbers."""
    if hint is Any:
        return True
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint) or hint
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, list)
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def check_same_config(path, old: dict, new: dict, free=frozenset()) -> None:
    """A run directory belongs to one config: GalcatError naming the fields of ``new`` that differ
    from ``old`` (the saved one), apart from the ``free`` ones that may change on resuming."""
    from galcat.errors import GalcatError

    diff = [k for k in new if k not in free and old.get(k) != new[k]]
    if diff:
        raise GalcatError(
            f"{path}: run directory holds a different configuration ({', '.join(diff)} differ); "
            "use a new --out or the same options to resume"
        )
