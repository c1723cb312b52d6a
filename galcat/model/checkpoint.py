"""Checkpoints as plain dicts of tensors and builtins, loadable with ``weights_only=True``.

The paper saved whole pickled models, which break across torch versions and can run code on
load. galcat saves ``state_dict`` + metadata only and refuses anything that needs pickle.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from galcat.atomic import atomic_path
from galcat.errors import GalcatError


def save_checkpoint(payload: dict, path: str | os.PathLike) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a torn file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """``torch.load(weights_only=True)``; a file that needs pickle is refused with a GalcatError."""
    path = Path(path)
    if not path.is_file():
        raise GalcatError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GalcatError(
            f"{path}: refusing a checkpoint that needs pickle (arbitrary code on load); "
            f"galcat loads only state_dict checkpoints with weights_only=True ({str(exc).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise GalcatError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0]})") from None


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a galcat checkpoint and check it has the keys needed to rebuild the network."""
    payload = safe_load(path)
    if not isinstance(payload, dict) or "state_dict" not in payload or "arch" not in payload:
        raise GalcatError(f"{path}: not a galcat checkpoint (no 'state_dict'/'arch' keys)")
    return payload


def resolve_checkpoint_path(init: str | os.PathLike) -> Path:
    """``--init`` accepts a run directory (fold 0's best checkpoint) or a checkpoint file."""
    path = Path(init)
    if path.is_dir():
        for candidate in (path / "fold0" / "best.pt", path / "best.pt", path / "fold0" / "last.pt"):
            if candidate.is_file():
                return candidate
        raise GalcatError(f"{path}: run directory has no fold0/best.pt checkpoint")
    if not path.is_file():
        raise GalcatError(f"{path}: --init is neither a run directory nor a checkpoint file")
    return path
