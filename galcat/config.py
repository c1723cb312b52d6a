"""Typed configs (dataclasses) saved as JSON beside every store, run and report.

Every artefact carries the config that made it and the galcat version, so any number can be
traced back to the command that produced it.
"""

from __future__ import annotations

import dataclasses
import json
import os
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
    """Load a dataclass config saved by :func:`save_config`."""
    return from_dict(cls, json.loads(Path(path).read_text()))
