"""Loading finished runs: ``load_run(dir)`` -> :class:`Run` with one :class:`FoldModel` per fold."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from galcat.config import load_config
from galcat.errors import GalcatError
from galcat.model.checkpoint import load_checkpoint, resolve_checkpoint_path, safe_load
from galcat.model.config import TrainConfig, check_train_config
from galcat.model.networks import build_network
from galcat.threads import configure as configure_threads


@dataclass
class FoldModel:
    """One fold's best network (eval mode, CPU) and the rows it was trained and validated on."""

    model: nn.Module
    class_names: list[str]
    scheme: str | None
    train_indices: np.ndarray
    val_indices: np.ndarray
    store_fingerprint: str
    epoch: int = -1
    stage: str | None = None
    path: Path | None = None
    val_metrics: dict = field(default_factory=dict)
    number: int = 0  # the fold's number in its run (``fold{number}/``)

    def __repr__(self) -> str:
        model = self.model
        net = f"{getattr(model, 'arch', type(model).__name__)}, {getattr(model, 'predictor', '?')} predictor"
        return (
            f"FoldModel({net}, {len(self.class_names)} classes, epoch {self.epoch}, "
            f"{len(self.train_indices)} train / {len(self.val_indices)} validation rows, "
            f"path={str(self.path)!r})"
        )


@dataclass
class Run:
    """A trained run: its config, one :class:`FoldModel` per fold and the training summary."""

    path: Path
    config: TrainConfig
    folds: list[FoldModel]
    summary: dict = field(default_factory=dict)
    #: fold number -> why it cannot be used (not finished, damaged); such a run is used only through
    #: an explicit fold selection of finished folds (``galcat.model.ensemble.select_folds``)
    incomplete: dict[int, str] = field(default_factory=dict)

    def predictor(
        self, folds=None, predict_turns: int | None = None, calibrate: bool = True, batch_size: int = 128,
        device=None,
    ):  # fmt: skip
        """A :class:`galcat.model.predictor.Predictor` of the selected folds (None: all; a number
        or '0,2'); ``predict_turns`` (1 or 4) overrides the views averaged; ``calibrate`` uses
        each fold's temperature (fitted on its validation rows and saved when missing)."""
        from galcat.model.predictor import Predictor

        return Predictor.from_run(self, folds, predict_turns, calibrate, batch_size, device)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, stage={self.config.stage!r}, {len(self.folds)} fold(s))"


def load_fold_model(checkpoint: str | Path, predict_turns: int | None = None) -> FoldModel:
    """Rebuild a network from a galcat checkpoint (``weights_only=True``); ``predict_turns``
    overrides the views its predictions average (None: as trained)."""
    path = Path(checkpoint)
    payload = load_checkpoint(path)
    try:
        model = build_network(payload)
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, ValueError, KeyError) as exc:  # wrong architecture or class count
        detail = " ".join(str(exc).split())[:240]
        raise GalcatError(
            f"{path}: the weights do not fit a {payload['arch']} with {len(payload['class_names'])} "
            f"classes and a {payload['embedding_dim']}-d embedding ({detail})"
        ) from None
    model.stage = payload.get("stage")
    reference = path.parent / "reference.pt"
    if getattr(model, "predictor", None) == "knn" and reference.is_file():
        saved = safe_load(reference)
        model.set_reference(saved["embeddings"], saved["labels"], saved.get("rows"))
    if predict_turns is not None:
        model.set_predict_turns(predict_turns)
    model.eval()
    metrics = payload.get("val_metrics")
    return FoldModel(
        model=model,
        class_names=list(payload.get("class_names") or []),
        scheme=payload.get("scheme"),
        train_indices=np.asarray(payload.get("train_indices", []), dtype=np.int64),
        val_indices=np.asarray(payload.get("val_indices", []), dtype=np.int64),
        store_fingerprint=str(payload.get("store_fingerprint", "")),
        epoch=int(payload.get("epoch", -1)),
        stage=payload.get("stage"),
        path=path,
        val_metrics=json.loads(metrics) if isinstance(metrics, str) else {},
    )


def load_run_config(path: Path) -> TrainConfig:
    """A run's ``config.json``, checked (schema, choices, ranges), with its store path resolved.

    A relative store path (runs saved before paths were stored absolute) is tried against the
    run directory first, then the working directory, so evaluate and embed work from anywhere.
    """
    cfg = load_config(TrainConfig, path)
    try:
        check_train_config(cfg)
    except GalcatError as exc:
        raise GalcatError(f"{path}: {exc}") from None
    store = Path(cfg.store) if cfg.store else None
    if store is not None and not store.is_absolute():
        for base in (path.parent, Path.cwd()):
            if (base / store).exists():
                cfg = dataclasses.replace(cfg, store=str((base / store).resolve()))
                break
    return cfg


def load_run(run_dir: str | Path, predict_turns: int | None = None) -> Run:
    """Load ``config.json`` and every fold's best checkpoint of a run directory.

    A single checkpoint file is accepted too (a one-fold run with the config beside it, if any).
    ``predict_turns`` (1 or 4) overrides the views each fold's predictions average.
    """
    configure_threads()
    path = Path(run_dir)
    if path.is_file():
        fold = load_fold_model(path, predict_turns)
        cfg_path = path.parent.parent / "config.json"
        cfg = load_run_config(cfg_path) if cfg_path.exists() else TrainConfig(store="", stage=fold.stage)
        return Run(path=path, config=cfg, folds=[fold])
    if not path.exists():
        raise GalcatError(f"{path}: run directory not found")
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise GalcatError(f"{path}: not a galcat run directory (no config.json)")
    cfg = load_run_config(cfg_path)
    folds, incomplete = _load_folds(path, cfg.folds, predict_turns)
    summary_path = path / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GalcatError(f"{summary_path}: not a readable JSON summary ({exc})") from None
    return Run(path=path, config=cfg, folds=folds, summary=summary, incomplete=incomplete)


def _load_folds(path: Path, n_folds: int, predict_turns) -> tuple[list[FoldModel], dict[int, str]]:
    """The finished folds of a run, and why each other fold of its ``n_folds`` cannot be used.

    A fold is finished when training wrote ``fold{k}/result.json``; a fold killed mid-training
    has a ``best.pt`` of some epoch, which is never taken for the finished model.
    """
    folds, incomplete, errors = [], {}, []
    for k in range(n_folds):
        fold_dir = path / f"fold{k}"
        if not (fold_dir / "best.pt").exists():
            incomplete[k] = f"fold {k} is not trained (no {fold_dir / 'best.pt'})"
            continue
        if not (fold_dir / "result.json").is_file():
            why = f"no {fold_dir / 'result.json'}; training was interrupted"
            incomplete[k] = f"fold {k} is not finished ({why})"
            continue
        try:
            fold = load_fold_model(resolve_checkpoint_path(fold_dir / "best.pt"), predict_turns)
        except GalcatError as exc:
            incomplete[k] = f"fold {k} is damaged ({exc})"
            errors.append(exc)
            continue
        fold.number = k
        folds.append(fold)
    if not folds:
        if errors:
            raise errors[0]
        raise GalcatError(f"{path}: run has no finished fold yet ({next(iter(incomplete.values()), '')})")
    return folds, incomplete
