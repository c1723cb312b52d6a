"""Checkpoints as plain dicts of tensors and builtins, loadable with ``weights_only=True``.

The paper saved whole pickled models, which break across torch versions and can run code on
load. galcat saves ``state_dict`` + metadata only and refuses anything that needs pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from galcat.atomic import atomic_path
from galcat.errors import GalcatError


def save_checkpoint(payload: dict, path: str | os.PathLike) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a torn file.

    A full disk or an I/O error (torch reports them as RuntimeError) is a GalcatError naming the
    file; the previous checkpoint is untouched, so rerunning the same command resumes.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except (OSError, RuntimeError) as exc:
        raise GalcatError(
            f"{path}: saving the checkpoint failed ({_first_line(exc)}); free space (or fix the device) "
            "and rerun the same command to resume"
        ) from None
    return path


def model_hash(model) -> str:
    """sha256 over a torch module's state dict (names, shapes and bytes) and, for a galcat network,
    its ``describe()`` (predictor, k, inference rotations): changes when the outputs can.

    Keys what was computed from a model (a calibration, an embedding index) to the model.
    """
    digest = hashlib.sha256()
    if hasattr(model, "describe"):
        digest.update(json.dumps(model.describe(), sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _looks_pickled(head: bytes) -> bool:
    """A legacy (pre-zip) torch file or a bare pickle: protocol 2-5 opcode at the start."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """``torch.load(weights_only=True)``; a file that needs pickle is refused with a GalcatError.

    Files that are not torch checkpoints at all (empty, random bytes, text) are told apart from
    checkpoints that would need pickle, so the message says what is actually wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise GalcatError(f"{path}: checkpoint not found")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise GalcatError(f"{path}: empty file (0 bytes), not a galcat checkpoint")
    if not zipfile.is_zipfile(path) and not _looks_pickled(head):
        raise GalcatError(f"{path}: not a galcat checkpoint (not a torch checkpoint file; starts {head!r})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GalcatError(
            f"{path}: refusing a checkpoint that needs pickle (arbitrary code on load); "
            f"galcat loads only state_dict checkpoints with weights_only=True ({_first_line(exc)})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged archives
        raise GalcatError(f"{path}: not a readable galcat checkpoint ({_first_line(exc)})") from None


#: keys every galcat checkpoint holds, and the type each must have
_SCHEMA = {
    "state_dict": dict,
    "arch": str,
    "embedding_dim": int,
    "class_names": list,
    "n_votes": int,
    "image_size": int,
}


def check_checkpoint(payload, path) -> dict:
    """GalcatError naming the file and the key unless ``payload`` is a galcat checkpoint."""
    from galcat.model.config import ARCHS, PREDICT_TURNS, STAGES, TIMM_PREFIX
    from galcat.ranges import MAX_IMAGE_SIDE, check_number

    if not isinstance(payload, dict):
        raise GalcatError(f"{path}: not a galcat checkpoint (holds a {type(payload).__name__}, not a dict)")
    for key, kind in _SCHEMA.items():
        if key not in payload:
            raise GalcatError(f"{path}: not a galcat checkpoint (no {key!r} key)")
        if not isinstance(payload[key], kind) or isinstance(payload[key], bool):
            raise GalcatError(f"{path}: not a galcat checkpoint ({key!r} is a {type(payload[key]).__name__})")
    if payload["arch"] not in ARCHS and not (
        payload["arch"].startswith(TIMM_PREFIX) and len(payload["arch"]) > len(TIMM_PREFIX)
    ):
        raise GalcatError(
            f"{path}: checkpoint architecture {payload['arch']!r} is not one of {', '.join(ARCHS)} "
            "or timm:NAME"
        )
    if payload.get("stage") is not None and payload["stage"] not in (*STAGES, "pretrain"):
        raise GalcatError(f"{path}: checkpoint stage {payload['stage']!r} is not one of {', '.join(STAGES)}")
    if payload.get("rotations", 1) not in PREDICT_TURNS:  # absent in checkpoints from before the option
        raise GalcatError(f"{path}: checkpoint 'rotations' is {payload['rotations']!r}, not 1 or 4")
    if not all(isinstance(c, str) for c in payload["class_names"]):
        raise GalcatError(f"{path}: checkpoint 'class_names' must be strings")
    check_number(payload["embedding_dim"], f"{path}: checkpoint 'embedding_dim'", 2, 65536, integer=True)
    check_number(payload["image_size"], f"{path}: checkpoint 'image_size'", 1, MAX_IMAGE_SIDE, integer=True)
    check_number(payload["n_votes"], f"{path}: checkpoint 'n_votes'", 0, 1000, integer=True)
    bad = [k for k, v in payload["state_dict"].items() if not (isinstance(k, str) and torch.is_tensor(v))]
    if bad:
        raise GalcatError(f"{path}: checkpoint 'state_dict' entry {bad[0]!r} is not a named tensor")
    return payload


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a galcat checkpoint and check it against the checkpoint schema."""
    return check_checkpoint(safe_load(path), path)


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
