"""``evaluate(EvaluateConfig)``: a trained run on a labelled query store -> metrics and report.

Per fold: embed (and classify) the query rows with the fold's model, embed the reference rows
(default: the fold's training rows of the run's store, as the paper used its train split),
then classification metrics, ROC, retrieval metrics, calibration (ECE, Brier before and after
temperature scaling) and bootstrap intervals; then the mean and std over folds, and the folds
combined (their ensemble, or their pooled out-of-fold predictions; galcat.evaluate.combined).
Labels are compared by class name in the model's scheme; hubble11 query
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


@dataclass
class EvaluateConfig:
    """Everything that defines one evaluation (``galcat evaluate``)."""

    model: str  # run directory (or one checkpoint .pt)
    query: str  # labelled store to evaluate on
    reference: str | None = None  # default: each fold's training rows of the run's store
    scheme: str | None = None  # query label scheme; default: the model's, else hubble11 for a hubble9 model
    folds: str = "all"  # "all" or fold numbers "0,2"
    bootstrap: int = 1000  # resamples for the 95% intervals; 0 = none
    calibrate: bool = True  # temperature-scale each fold (fitted on its validation split)
    out: str = "reports/evaluate"
    normalize: bool = True  # L2-normalise embeddings before retrieval (the training distance)
    block_size: int = 4096
    batch_size: int = 128
    device: str | None = None
    seed: int = 0
    predict_turns: int | None = None  # views a prediction averages (1 or 4); None: as trained


@dataclass
class Labelled:
    path: str
    rows: np.ndarray  # store rows that have a label
    codes: np.ndarray  # labels of those rows, in the model's class order
    scheme: str


def _pick_scheme(store, requested: str | None, model_scheme: str | None, model_classes: list[str]) -> str:
    return store.choose_scheme(requested, model_scheme, model_classes, need="evaluation")


def labelled_rows(path, requested, model_scheme, model_classes, rows=None) -> Labelled:
    """The labelled ``rows`` of a store (all rows when None), codes in the model's class order."""
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
    return Labelled(str(path), rows, codes[rows], scheme)


def _embed(predictor, labelled: Labelled):
    """One fold's :class:`galcat.model.predictor.Prediction` of the labelled rows, in their order."""
    return predictor.predict_store(labelled.path, labelled.rows)


def _saved_reference(fold, embedded: Labelled, reference: Labelled, shared_ref, cfg: EvaluateConfig):
    """The fold's saved training embeddings (``reference.pt``, the k-NN vote's reference) when the
    retrieval reference is exactly those rows of the run's store; else None (embed them)."""
    rows = getattr(fold.model, "reference_rows", None)
    if rows is None or cfg.reference or shared_ref is not None or embedded is not reference:
        return None
    if fold.model.reference_turns != fold.model.rotations:  # --predict-turns changed the views
        return None
    order = np.argsort(rows, kind="stable")
    if not np.array_equal(rows[order], embedded.rows):
        return None
    return fold.model.reference_embeddings.cpu().numpy()[order]


def _own_rows(run, fold, cfg: EvaluateConfig):
    """On the run's own training store the queries are the fold's validation rows (never its
    training rows, which would retrieve themselves); on any other store, all labelled rows."""
    own = run.config.store and Path(run.config.store).exists()
    if own and Path(cfg.query).resolve() == Path(run.config.store).resolve() and len(fold.val_indices):
        return fold.val_indices
    return None


def _reference_for(fold, run, cfg: EvaluateConfig, classes) -> Labelled:
    if cfg.reference:
        return labelled_rows(cfg.reference, cfg.scheme, fold.scheme, classes)
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
    return labelled_rows(store_path, fold.scheme, fold.scheme, classes, rows=fold.train_indices)


def predicted_labels(
    query_emb, query_labels, ref_emb, ref_labels, probs=None, ref_includes_query=False,
    normalize: bool = True, block_size: int = 4096,
) -> np.ndarray:  # fmt: skip
    """Class codes: the argmax of ``probs``, else the nearest reference's label."""
    if probs is not None:
        return np.asarray(probs).argmax(axis=1)
    ref = query_emb if ref_emb is None else ref_emb
    labels = np.asarray(query_labels if ref_emb is None else ref_labels)
    _, idx = knn(
        query_emb, ref, 1, block_size, exclude_self=ref_emb is None or ref_includes_query, normalize=normalize
    )
    return labels[idx[:, 0]]


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
    y_pred=None,
    classifier: str | None = None,
) -> dict:
    """One fold's metrics from arrays; without ``probs`` the class is the nearest reference's label
    (``y_pred`` skips that computation when the caller already has the predicted codes).
    ``classifier`` names what made ``probs`` (default: a softmax head)."""
    values, used = per_query_retrieval(
        query_emb, query_labels, ref_emb, ref_labels, ref_includes_query, block_size, normalize
    )
    retrieval = {
        k: float(np.nanmean(values[:, j])) if used.any() else float("nan") for j, k in enumerate(METRIC_KEYS)
    }
    retrieval.update(n_queries=int(used.sum()), n_lone=int((~used).sum()))
    if y_pred is None:
        y_pred = predicted_labels(
            query_emb, query_labels, ref_emb, ref_labels, probs, ref_includes_query, normalize, block_size
        )
    fold = {
        "classification": classification_metrics(query_labels, y_pred, class_names),
        "classifier": (classifier or "softmax head") if probs is not None else "1-nearest reference",
        "retrieval": retrieval,
        "roc": roc_curves(query_labels, probs, class_names) if probs is not None else None,
    }
    fold["bootstrap"] = bootstrap_intervals(
        query_labels, y_pred, len(class_names), values, n_boot=bootstrap, seed=seed
    )
    return fold


#: the files an evaluation writes into ``--out`` (besides figures), checked against the inputs
REPORT_FILES = (
    "metrics.json", "report.md", "report.html", "evaluate_config.json", "confusion.png", "roc.png",
    "calibration.png", "errors.png",
)  # fmt: skip


def check_evaluate_config(cfg: EvaluateConfig) -> None:
    """Ranges of the numeric options, and no report file that is one of the inputs, before any work."""
    from galcat.paths import check_writable, refuse_overwriting_inputs
    from galcat.ranges import bound, check_numbers

    check_numbers(
        cfg,
        {
            "bootstrap": bound("bootstrap"),
            "batch_size": bound("batch_size"),
            "block_size": {"low": 1, "integer": True, "option": "block_size"},
            "seed": bound("seed"),
        },
    )
    out = Path(cfg.out)
    outputs = {"--out": out, **{f"--out ({name})": out / name for name in REPORT_FILES}}
    model = Path(cfg.model)
    inputs = {"--model": model, "--query": cfg.query, "--reference": cfg.reference}
    if model.is_dir():
        inputs["--model (config.json)"] = model / "config.json"
    refuse_overwriting_inputs(outputs, inputs)
    check_writable(out, kind="folder")


def _plan(run, fold, cfg: EvaluateConfig, classes) -> tuple[Labelled, Labelled, bool]:
    """(query rows, reference rows, whether the queries are the fold's own validation rows)."""
    own_rows = _own_rows(run, fold, cfg)
    query = labelled_rows(cfg.query, cfg.scheme, fold.scheme, classes, rows=own_rows)
    return query, _reference_for(fold, run, cfg, classes), own_rows is not None


def _shared_reference(plans, classes, scheme) -> Labelled | None:
    """For an ensemble: every reference row of every fold, so that each fold embeds them all."""
    paths = {str(Path(ref.path).resolve()) for _, ref, _ in plans}
    if len(paths) != 1:
        return None
    rows = np.unique(np.concatenate([ref.rows for _, ref, _ in plans]))
    first = plans[0][1]
    return labelled_rows(first.path, first.scheme, scheme, classes, rows=rows)


def _common_classes(model, selected) -> list[str]:
    class_names = None
    for number, fold in selected:
        classes = list(fold.class_names or getattr(fold.model, "class_names", []) or [])
        if not classes:
            raise GalcatError(f"{model}: fold {number} has no class names (a votes-stage model?)")
        if class_names is not None and classes != class_names:
            raise GalcatError(f"{model}: fold {number} classes {classes} differ from fold 0 {class_names}")
        class_names = classes
    return class_names


def classifier_name(model) -> str:
    """What turns the network's output into class probabilities, in the report's words."""
    predictor = getattr(model, "predictor", "softmax")
    if predictor == "proxy":
        return "nearest class prototype in the metric space (proxy loss)"
    if predictor == "knn":
        return f"distance-weighted {getattr(model, 'knn_k', '')}-NN vote of the training reference"
    return "softmax head"


def _evaluate_fold(number, fold, plan, shared_ref, predictor, classes, cfg: EvaluateConfig, given=None):
    """(metrics dict, FoldQueries) of one fold; ``predictor`` predicts with this fold alone, unless
    ``given`` holds its predictions of the queries and of ``shared_ref`` (None: the queries)."""
    from galcat.evaluate.combined import FoldQueries, calibration_block

    query, reference, own = plan
    calibration = predictor.calibrations[0]
    temperature = calibration.temperature if calibration is not None else None
    pred = given[0] if given is not None else _embed(predictor, query)
    q_emb = pred.fold_embeddings[0]
    raw = None if pred.fold_logits is None else pred.raw_fold_probabilities[0]
    probs = None if pred.fold_probabilities is None else pred.fold_probabilities[0]
    embedded = shared_ref or reference
    same = Path(embedded.path).resolve() == Path(query.path).resolve() and np.array_equal(
        embedded.rows, query.rows
    )
    r_emb, r_lab = None, None
    if not same:
        saved = _saved_reference(fold, embedded, reference, shared_ref, cfg)
        if saved is not None:
            r_emb = saved
        elif given is not None and given[1] is not None:
            r_emb = given[1].fold_embeddings[0]
        else:
            r_emb = _embed(predictor, embedded).fold_embeddings[0]
        r_lab = embedded.codes
        if shared_ref is not None:  # this fold's own references are a subset of the shared rows
            pos = np.searchsorted(shared_ref.rows, reference.rows)
            r_emb, r_lab = r_emb[pos], shared_ref.codes[pos]
    y_pred = predicted_labels(q_emb, query.codes, r_emb, r_lab, probs, False, cfg.normalize, cfg.block_size)
    result = evaluate_arrays(
        q_emb, query.codes, r_emb, r_lab, classes, probs=probs, bootstrap=cfg.bootstrap,
        normalize=cfg.normalize, block_size=cfg.block_size, seed=cfg.seed + number, y_pred=y_pred,
        classifier=classifier_name(fold.model),
    )  # fmt: skip
    if probs is not None:
        result["calibration"] = calibration_block(raw, probs, query.codes, [temperature])
    result.update(
        fold=number,
        n_query=int(len(query.rows)),
        query_rows="the fold's validation rows" if own else "all labelled rows",
        n_reference=int(len(query.rows) if same else len(reference.rows)),
        temperature=temperature,
    )
    queries = FoldQueries(number, query.path, query.rows, query.codes, q_emb, y_pred, raw, probs, temperature)
    return result, queries


def _ensemble_predictions(predictor, query: Labelled, shared_ref: Labelled | None):
    """Every fold's predictions of the common query rows (pooled by the predictor) and of the
    shared reference rows (None when there are none or they are the queries)."""
    queries = _embed(predictor, query)
    same = shared_ref is None or (
        Path(shared_ref.path).resolve() == Path(query.path).resolve()
        and np.array_equal(shared_ref.rows, query.rows)
    )
    return queries, None if same else _embed(predictor, shared_ref)


def _combine(queries, shared_ref, ensemble, classes, cfg: EvaluateConfig) -> dict:
    """The folds together: ``ensemble`` (from :func:`_ensemble_predictions`) when they all
    predicted the same queries, else their pooled out-of-fold predictions."""
    from galcat.evaluate.combined import ensemble_block, pooled_out_of_fold

    if ensemble is None:
        combined = pooled_out_of_fold(queries, classes)
        if len(queries) == 1:
            combined["kind"] = "single fold"
        return combined
    pred, ref_pred = ensemble
    use_ref = ref_pred is not None
    q_emb, r_emb = pred.embeddings, ref_pred.embeddings if use_ref else None
    labels = queries[0].labels
    r_lab = shared_ref.codes if use_ref else None
    probs = pred.probabilities
    y_pred = predicted_labels(q_emb, labels, r_emb, r_lab, probs, False, cfg.normalize, cfg.block_size)
    result = evaluate_arrays(
        q_emb, labels, r_emb, r_lab, classes, probs=probs, bootstrap=cfg.bootstrap, normalize=cfg.normalize,
        block_size=cfg.block_size, seed=cfg.seed, y_pred=y_pred,
    )  # fmt: skip
    result.update(ensemble_block(queries, pred, y_pred, classes))
    result["n_reference"] = int(len(shared_ref.rows) if use_ref else len(labels))
    return result


def evaluate(cfg: EvaluateConfig) -> dict:
    """Evaluate every selected fold and their combination; write metrics.json, report.md and
    figures (confusion, ROC, calibration, confident mistakes) to ``cfg.out``."""
    from galcat.model import load_run
    from galcat.model.ensemble import select_folds

    check_evaluate_config(cfg)
    run = load_run(cfg.model, cfg.predict_turns)
    selected = select_folds(run, cfg.folds)
    class_names = _common_classes(cfg.model, selected)
    predictor = run.predictor(cfg.folds, None, cfg.calibrate, cfg.batch_size, cfg.device)
    plans = [_plan(run, fold, cfg, class_names) for _, fold in selected]
    same_rows = all(
        q.path == plans[0][0].path and np.array_equal(q.rows, plans[0][0].rows) for q, _, _ in plans
    )
    shared_ref = (
        _shared_reference(plans, class_names, selected[0][1].scheme) if len(plans) > 1 and same_rows else None
    )
    # the same queries for every fold: one prediction of all folds, pooled by the predictor
    ensemble = (
        _ensemble_predictions(predictor, plans[0][0], shared_ref) if len(plans) > 1 and same_rows else None
    )
    folds, queries = [], []
    for position, ((number, fold), plan) in enumerate(zip(selected, plans, strict=True)):
        given = None if ensemble is None else tuple(p if p is None else p.fold(position) for p in ensemble)
        result, fold_queries = _evaluate_fold(
            number, fold, plan, shared_ref, predictor.select([number]), class_names, cfg, given
        )
        folds.append(result)
        queries.append(fold_queries)
    combined = _combine(queries, shared_ref, ensemble, class_names, cfg)
    metrics = {
        "model": Path(cfg.model).name or str(cfg.model),
        "model_path": str(cfg.model),
        "stage": getattr(run.config, "stage", None),
        "query": str(cfg.query),
        "query_scheme": plans[0][0].scheme,
        "reference": cfg.reference or "each fold's training rows of the run's store",
        "scheme": selected[0][1].scheme,
        "class_names": class_names,
        "folds": folds,
        "unfinished_run": [run.incomplete[k] for k in sorted(run.incomplete)],
        "summary": summarize_folds(folds),
        "combined": combined,
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
    out = Path(cfg.out)
    images = _mistake_images(cfg.query, combined.get("mistakes") or [])  # also names their objids
    if len(images):  # drawn first: the report pages list and embed it
        from galcat.evaluate.plots import plot_mistakes

        captions = [
            f"{m['objid']}\ntrue {m['true']}\npred {m['predicted']} ({m['probability']:.2f})"
            for m in combined["mistakes"]
        ]
        plot_mistakes(images, captions, out / "errors.png", f"{metrics['model']}: most confident mistakes")
    write_report(out, metrics)
    save_config(cfg, out / "evaluate_config.json")
    return metrics


def _mistake_images(store_path, mistakes: list[dict]) -> np.ndarray:
    """The query images of the mistakes (uint8 (n, H, W, 3)); adds each mistake's ``objid``."""
    from galcat.store import open_store

    rows = np.array([m["row"] for m in mistakes], dtype=np.int64)
    if not len(rows):
        return np.zeros((0, 1, 1, 3), dtype=np.uint8)
    with open_store(store_path) as store:
        images = store.read_images(rows)  # any order, repeats allowed
        objids = np.ma.filled(np.ma.asarray(store.catalogue["objid"]).astype(str), "")[rows]
    for mistake, objid in zip(mistakes, objids, strict=True):
        mistake["objid"] = str(objid)
    return images
