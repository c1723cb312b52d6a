"""``evaluate(EvaluateConfig)``: a trained run on a labelled query store -> metrics and report.

Per fold: embed (and classify) the query rows with the fold's model, embed the reference rows
(default: the fold's training rows of the run's store, as the paper used its train split),
then classification metrics, ROC, retrieval metrics and bootstrap intervals; finally the mean
and std over folds. Labels are compared by class name in the model's scheme; hubble11 query
labels are collapsed to hubble9 for a hubble9 model (E0/E3-5/E7 -> E).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galcat.config import save_config
from galcat.errors import GalcatError
from galcat.evaluate.bootstrap import bootstrap_intervals
from galcat.evaluate.labels import align_codes
from galcat.evaluate.report import summarize_folds, write_report
from galcat.evaluate.roc import roc_curves
from galcat.metrics.classification import classification_metrics
from galcat.metrics.knn import knn
from galcat.metrics.retrieval import METRIC_KEYS, per_query_retrieval
from galcat.schemes import HUBBLE9


@dataclass
class EvaluateConfig:
    """Everything that defines one evaluation (``galcat evaluate``)."""

    model: str  # run directory (or one checkpoint .pt)
    query: str  # labelled store to evaluate on
    reference: str | None = None  # default: each fold's training rows of the run's store
    scheme: str | None = None  # query label scheme; default: the model's, else hubble11 for a hubble9 model
    folds: str = "all"  # "all" or fold numbers "0,2"
    bootstrap: int = 1000  # resamples for the 95% intervals; 0 = none
    out: str = "reports/evaluate"
    normalize: bool = True  # L2-normalise embeddings before retrieval (the training distance)
    block_size: int = 4096
    batch_size: int = 128
    device: str | None = None
    seed: int = 0


@dataclass
class _Labelled:
    path: str
    rows: np.ndarray  # store rows that have a label
    codes: np.ndarray  # labels of those rows, in the model's class order
    scheme: str


def _select_folds(run, spec: str) -> list[tuple[int, object]]:
    numbered = list(enumerate(run.folds))
    if spec in ("all", "", None):
        return numbered
    try:
        wanted = [int(part) for part in str(spec).split(",")]
    except ValueError:
        raise GalcatError(f"--folds {spec!r}: use 'all' or fold numbers such as '0' or '0,2'") from None
    missing = [w for w in wanted if not 0 <= w < len(run.folds)]
    if missing:
        raise GalcatError(f"{run.path}: no fold {missing}; the run has folds 0..{len(run.folds) - 1}")
    return [numbered[w] for w in wanted]


def _pick_scheme(store, requested: str | None, model_scheme: str | None, model_classes: list[str]) -> str:
    schemes = store.schemes
    if not schemes:
        raise GalcatError(f"{store.path}: store has no labels (no labels/<scheme>); evaluation needs labels")
    if requested:
        if requested not in schemes:
            raise GalcatError(f"{store.path}: no label scheme {requested!r}; the store has {schemes}")
        return requested
    if model_scheme in schemes:
        return model_scheme
    if tuple(model_classes) == HUBBLE9 and "hubble11" in schemes:
        return "hubble11"
    return schemes[0]


def _labelled_rows(path, requested, model_scheme, model_classes, rows=None) -> _Labelled:
    from galcat.store import open_store

    with open_store(path) as store:
        if len(store) == 0:
            raise GalcatError(f"{path}: the store is empty")
        scheme = _pick_scheme(store, requested, model_scheme, model_classes)
        codes = store.label_codes(scheme)
        classes = store.class_names(scheme)
    codes = align_codes(codes, classes, model_classes, source=f"{path}, labels/{scheme}")
    rows = np.arange(len(codes), dtype=np.int64) if rows is None else np.sort(np.asarray(rows, np.int64))
    if len(rows) and rows.max() >= len(codes):
        raise GalcatError(f"{path}: row {int(rows.max())} is beyond the store's {len(codes)} rows")
    rows = rows[codes[rows] >= 0]
    if len(rows) == 0:
        raise GalcatError(f"{path}: no labelled rows in scheme {scheme!r}")
    return _Labelled(str(path), rows, codes[rows], scheme)


def _embed(fold, labelled: _Labelled, cfg: EvaluateConfig):
    from galcat.model.inference import predict

    pred = predict(
        fold.model, labelled.path, indices=labelled.rows, batch_size=cfg.batch_size, device=cfg.device
    )
    order = np.searchsorted(labelled.rows, pred.index)
    if len(pred.index) != len(labelled.rows) or not np.array_equal(labelled.rows[order], pred.index):
        raise GalcatError(f"{labelled.path}: predictions do not cover the requested rows")
    return pred.embeddings, pred.probs, labelled.codes[order]


def _own_rows(run, fold, cfg: EvaluateConfig):
    """On the run's own training store the queries are the fold's validation rows (never its
    training rows, which would retrieve themselves); on any other store, all labelled rows."""
    own = run.config.store and Path(run.config.store).exists()
    if own and Path(cfg.query).resolve() == Path(run.config.store).resolve() and len(fold.val_indices):
        return fold.val_indices
    return None


def _reference_for(fold, run, cfg: EvaluateConfig, classes) -> _Labelled:
    if cfg.reference:
        return _labelled_rows(cfg.reference, cfg.scheme, fold.scheme, classes)
    store_path = Path(run.config.store or "")
    if not run.config.store or not store_path.exists():
        raise GalcatError(
            f"{run.path}: the run's training store {str(store_path)!r} is not found; pass --reference"
        )
    from galcat.store import open_store

    with open_store(store_path) as store:
        fingerprint = store.fingerprint
    if fold.store_fingerprint and fold.store_fingerprint != fingerprint:
        raise GalcatError(
            f"{store_path}: the store changed since training (fingerprint differs); pass --reference"
        )
    return _labelled_rows(store_path, fold.scheme, fold.scheme, classes, rows=fold.train_indices)


def evaluate_arrays(
    query_emb,
    query_labels,
    ref_emb,
    ref_labels,
    class_names,
    probs=None,
    ref_includes_query=False,
    bootstrap: int = 0,
    normalize: bool = True,
    block_size: int = 4096,
    seed: int = 0,
) -> dict:
    """One fold's metrics from arrays; without ``probs`` the class is the nearest reference's label."""
    values, used = per_query_retrieval(
        query_emb, query_labels, ref_emb, ref_labels, ref_includes_query, block_size, normalize
    )
    retrieval = {
        k: float(np.nanmean(values[:, j])) if used.any() else float("nan") for j, k in enumerate(METRIC_KEYS)
    }
    retrieval.update(n_queries=int(used.sum()), n_lone=int((~used).sum()))
    if probs is not None:
        y_pred = np.asarray(probs).argmax(axis=1)
    else:
        ref = query_emb if ref_emb is None else ref_emb
        labels = np.asarray(query_labels if ref_emb is None else ref_labels)
        _, idx = knn(
            query_emb,
            ref,
            1,
            block_size,
            exclude_self=ref_emb is None or ref_includes_query,
            normalize=normalize,
        )
        y_pred = labels[idx[:, 0]]
    fold = {
        "classification": classification_metrics(query_labels, y_pred, class_names),
        "classifier": "softmax head" if probs is not None else "1-nearest reference",
        "retrieval": retrieval,
        "roc": roc_curves(query_labels, probs, class_names) if probs is not None else None,
    }
    fold["bootstrap"] = bootstrap_intervals(
        query_labels, y_pred, len(class_names), values, n_boot=bootstrap, seed=seed
    )
    return fold


def evaluate(cfg: EvaluateConfig) -> dict:
    """Evaluate every selected fold, write metrics.json, report.md and figures to ``cfg.out``."""
    from galcat.model import load_run

    run = load_run(cfg.model)
    selected = _select_folds(run, cfg.folds)
    folds, class_names, query_info = [], None, None
    for number, fold in selected:
        classes = list(fold.class_names or getattr(fold.model, "class_names", []) or [])
        if not classes:
            raise GalcatError(f"{cfg.model}: fold {number} has no class names (a votes-stage model?)")
        if class_names is not None and classes != class_names:
            raise GalcatError(
                f"{cfg.model}: fold {number} classes {classes} differ from fold 0 {class_names}"
            )
        class_names = classes
        own_rows = _own_rows(run, fold, cfg)
        query = _labelled_rows(cfg.query, cfg.scheme, fold.scheme, classes, rows=own_rows)
        reference = _reference_for(fold, run, cfg, classes)
        q_emb, probs, q_lab = _embed(fold, query, cfg)
        same = Path(reference.path).resolve() == Path(query.path).resolve() and np.array_equal(
            reference.rows, query.rows
        )
        if same:
            r_emb, r_lab = None, None
        else:
            r_emb, _, r_lab = _embed(fold, reference, cfg)
        if probs is not None and probs.shape[1] != len(classes):
            raise GalcatError(
                f"{cfg.model}: the model outputs {probs.shape[1]} classes but names {len(classes)}"
            )
        result = evaluate_arrays(
            q_emb,
            q_lab,
            r_emb,
            r_lab,
            classes,
            probs=probs,
            bootstrap=cfg.bootstrap,
            normalize=cfg.normalize,
            block_size=cfg.block_size,
            seed=cfg.seed + number,
        )
        result.update(
            fold=number,
            n_query=int(len(query.rows)),
            query_rows="the fold's validation rows" if own_rows is not None else "all labelled rows",
            n_reference=int(len(query.rows) if same else len(reference.rows)),
        )
        folds.append(result)
        query_info = query
    metrics = {
        "model": Path(cfg.model).name or str(cfg.model),
        "model_path": str(cfg.model),
        "stage": getattr(run.config, "stage", None),
        "query": str(cfg.query),
        "query_scheme": query_info.scheme,
        "reference": cfg.reference or "each fold's training rows of the run's store",
        "scheme": selected[0][1].scheme,
        "class_names": class_names,
        "folds": folds,
        "summary": summarize_folds(folds),
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
    out = Path(cfg.out)
    write_report(out, metrics)
    save_config(cfg, out / "evaluate_config.json")
    return metrics
