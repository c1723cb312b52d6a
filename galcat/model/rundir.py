"""A run directory's own files before training: its paths, its ``config.json``, its init checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from galcat.config import check_same_config, load_config, save_config, to_dict
from galcat.errors import GalcatError
from galcat.model.checkpoint import load_checkpoint, resolve_checkpoint_path
from galcat.model.config import TrainConfig
from galcat.progress import console

#: Config fields that may change between an interrupted run and its resumption.
RESUME_FREE = {"device", "compile", "num_workers", "progress", "precision"}


def check_train_paths(cfg: TrainConfig) -> None:
    """The run directory must not hold the checkpoint it starts from (training would replace it)."""
    from galcat.paths import check_writable, is_within, refuse_overwriting_inputs

    refuse_overwriting_inputs({"--out": cfg.out}, {"--store": cfg.store, "--init": cfg.init})
    if cfg.init and is_within(cfg.init, cfg.out):
        raise GalcatError(
            f"{cfg.out}: --out holds the --init checkpoint ({cfg.init}); training would overwrite it, "
            "choose a new run directory"
        )
    check_writable(cfg.out, kind="folder")


def absolute_paths(cfg: TrainConfig) -> dict:
    paths = {"store": cfg.store, "init": cfg.init, "weights": cfg.weights}
    return {  # hf_hub:OWNER/NAME names a hub model, not a path
        k: str(Path(v).expanduser().resolve())
        for k, v in paths.items()
        if v and "://" not in str(v) and not str(v).startswith("hf_hub:")
    }


def write_or_check_config(cfg: TrainConfig, out: Path) -> None:
    """A run directory belongs to one config; resuming with another one is a user error. A config
    with no trained epoch behind it (a run refused or stopped before its first epoch) is replaced."""
    path = out / "config.json"
    trained = any(out.glob("fold*/last.pt")) or any(out.glob("fold*/best.pt"))
    if path.exists() and trained:
        saved = load_config(TrainConfig, path)  # runs saved before paths were absolute: resolve them
        old = to_dict(dataclasses.replace(saved, **absolute_paths(saved)))
        check_same_config(path, old, to_dict(cfg), RESUME_FREE)
    save_config(cfg, path)


def load_init(cfg: TrainConfig, k: int, val_rows: np.ndarray, fingerprint: str) -> dict | None:
    """The checkpoint that initialises fold ``k``.

    From a run directory made on the same store with the same split, fold ``k`` starts from that
    run's fold ``k`` (so no validation row of this fold was ever trained on); otherwise from
    fold 0's best checkpoint (or the named .pt), as documented for ``--init``.
    """
    if cfg.init is None:
        return None
    path, payload = resolve_checkpoint_path(cfg.init), None
    same_fold = Path(cfg.init) / f"fold{k}" / "best.pt"
    if k > 0 and same_fold.is_file():
        candidate = load_checkpoint(same_fold)
        same_split = np.array_equal(np.asarray(candidate.get("val_indices", [])), val_rows)
        if candidate.get("store_fingerprint") == fingerprint and same_split:
            path, payload = same_fold, candidate
    payload = payload if payload is not None else load_checkpoint(path)
    console.print(f"[dim]fold {k}: init from {path} ({payload.get('stage')}, {payload.get('arch')})[/dim]")
    return payload
