"""Run a trained model over a store and put its outputs back into the store's catalogue."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from galcat.errors import GalcatError
from galcat.model.checkpoint import model_hash
from galcat.outputs.columns import ReferenceNeighbours, annotate_outputs, masked_to_str
from galcat.outputs.index import EmbeddingIndex, index_key
from galcat.outputs.shards import finish as finish_shards
from galcat.outputs.shards import main_rank_first, process_group, sharded_compute

#: neighbours of the kNN columns for a model that does not vote (a DML model's default is its own k)
DEFAULT_K = 10


@dataclass
class EmbedConfig:
    """``galcat embed``: model run + store -> annotated catalogue (optionally with kNN columns)."""

    model: str
    store: str
    out: str | None = None
    reference: str | None = None
    fold: int | None = None  # None: every fold of the run (their ensemble)
    k: int | None = None  # neighbours of the kNN columns; None: a DML model's vote k, else DEFAULT_K
    overwrite: bool = False
    samp: bool = False
    batch_size: int = 128
    device: str | None = None
    per_fold: bool = False  # also write each fold's prediction
    calibrate: bool = True  # temperature-scale each fold (fitted on its validation split)
    predict_turns: int | None = None  # views a prediction averages (1 or 4); None: as trained


def load_fold(run_dir, fold: int, predict_turns: int | None = None, batch_size: int = 128, device=None):
    """An uncalibrated predictor of one fold of a run, with a clear error for a bad fold."""
    from galcat.model import load_run

    return load_run(run_dir, predict_turns).predictor(fold, None, False, batch_size, device)


def open_checked_store(path, fold, need_labels: bool):
    """Open a store and check it against the model: not empty, same classes, labels if needed."""
    from galcat.store import open_store

    if not Path(path).exists():
        raise GalcatError(f"{path}: store not found")
    store = open_store(path)
    if len(store) == 0:
        raise GalcatError(f"{path}: the store is empty (0 objects); nothing to embed")
    scheme = getattr(fold, "scheme", None)
    if scheme is None:
        if need_labels:
            raise GalcatError(f"{path}: the model has no class scheme, so kNN labels cannot be computed")
        return store
    if scheme in store.schemes:
        store_classes = [str(c) for c in store.class_names(scheme)]
        model_classes = [str(c) for c in fold.class_names]
        if store_classes != model_classes:
            raise GalcatError(
                f"{path}: column {scheme!r}: the store's classes {store_classes} do not match "
                f"the model's classes {model_classes}"
            )
        if need_labels and not (store.label_codes(scheme) >= 0).any():
            raise GalcatError(
                f"{path}: column {scheme!r}: no object has a label; kNN needs labelled references"
            )
    elif need_labels:
        raise GalcatError(
            f"{path}: the store has no labels for scheme {scheme!r} "
            f"(it has {list(store.schemes) or 'none'}); "
            "kNN needs labelled references"
        )
    return store


def embed_store(predictor, store_path, store, out=None):
    """The predictor's :class:`galcat.model.predictor.Prediction` of every store row, in store row
    order (one fold is an ensemble of one).

    Under ``torchrun`` the rows are shared out between the ranks (:mod:`galcat.outputs.shards`,
    part files beside ``out``); rank 0 gets the merged predictions and every other rank ``None``.
    """

    def compute(rows):
        return _prediction_arrays(predictor.predict_store(str(store_path), rows))

    run_path = getattr(predictor.run, "path", "")
    manifest = {
        "store": store.fingerprint, "model": str(Path(run_path).resolve()),
        "image_size": predictor.image_size,
        "folds": list(predictor.numbers), "temperatures": list(predictor.temperatures),
    }  # fmt: skip
    arrays = sharded_compute(len(store), compute, out, manifest)
    if arrays is None:
        return None
    return _prediction_from_arrays(arrays, predictor)


def _prediction_arrays(pred) -> dict[str, np.ndarray]:
    """The prediction's arrays, rows first (part files of sharded_compute are cut by row)."""
    from galcat.model.predictor import FOLD_FIELDS

    arrays = {}
    for name, value in vars(pred).items():
        if isinstance(value, np.ndarray):
            arrays[name] = np.moveaxis(value, 0, 1) if name in FOLD_FIELDS else value
    return arrays


def _prediction_from_arrays(arrays: dict[str, np.ndarray], predictor):
    from galcat.model.predictor import FOLD_FIELDS, Prediction

    fields = {name: np.moveaxis(v, 1, 0) if name in FOLD_FIELDS else v for name, v in arrays.items()}
    return Prediction(
        class_names=list(predictor.class_names), folds=list(predictor.numbers),
        temperatures=list(predictor.temperatures), **fields,
    )  # fmt: skip


def _selection_key(predictor):
    """Index key part and model digest of a fold selection (one fold keeps its historic key)."""
    if len(predictor.numbers) == 1:
        return predictor.numbers[0], model_hash(predictor.models[0])
    digests = "|".join(model_hash(model) for model in predictor.models)
    return ",".join(str(n) for n in predictor.numbers), hashlib.sha256(digests.encode()).hexdigest()


def reference_index(run_dir, predictor, store_path, store, embeddings=None):
    """The saved embedding index of a store for these folds (their mean embedding), rebuilt when stale.

    ``embeddings`` (store row order) skips the forward pass when the caller already has them.
    """
    fold_key, digest = _selection_key(predictor)
    key = index_key(run_dir, fold_key)
    index = EmbeddingIndex.load(store_path, key, store.fingerprint, digest)
    if index is None:
        if embeddings is None:
            embeddings = embed_store(predictor, store_path, store).embeddings
        index = EmbeddingIndex.build(embeddings, np.arange(len(store)), store.fingerprint, digest)
        index.save(store_path, key)
    return index


def reference_neighbours(query_embeddings, index: EmbeddingIndex, ref_store, scheme, k, same_store=False):
    """kNN of every query among the labelled reference rows, from the reference's saved index.

    With ``same_store`` query i is store row i, which is never its own neighbour.
    """
    labelled = ref_store.label_codes(scheme) >= 0
    n_labelled = int(labelled[index.ids].sum())
    available = n_labelled - (1 if same_store else 0)
    if available < 1:
        raise GalcatError(f"the reference store has too few labelled objects for kNN ({n_labelled})")
    k = min(k, available)
    exclude = np.arange(len(query_embeddings)) if same_store else None
    distances, rows = index.search(query_embeddings, k, exclude_rows=exclude, allowed_rows=labelled)
    return _neighbours(distances, rows, ref_store, scheme, "reference objects")


def _neighbours(distances, rows, ref_store, scheme, source: str) -> ReferenceNeighbours:
    classes = [str(c) for c in ref_store.class_names(scheme)]
    objids = masked_to_str(ref_store.catalogue["objid"])
    labels = np.asarray(classes)[ref_store.label_codes(scheme)[rows]]
    return ReferenceNeighbours(distances, labels, objids[rows], classes, source)


def model_vote_neighbours(prediction, predictor, ref_store, k: int | None, same_store: bool):
    """The neighbours that cast a one-fold DML model's own vote, when ``ref_store`` is the run's
    training store and ``k`` is the model's: the catalogue's kNN columns then are that vote, so
    ``knn_<scheme>`` equals ``pred_<scheme>`` row by row. None otherwise (a fold ensemble pools
    several votes; another reference store holds other galaxies)."""
    if prediction.vote_rows is None or len(predictor.numbers) != 1 or same_store:
        return None
    model = predictor.models[0]
    fold = predictor.fold_models[0]
    if (k is not None and k != model.knn_k) or getattr(model, "reference_rows", None) is None:
        return None
    if ref_store.fingerprint != getattr(fold, "store_fingerprint", None):
        return None
    return _neighbours(
        prediction.vote_distances[0], prediction.vote_rows[0], ref_store, predictor.scheme,
        "training galaxies of the model's own vote",
    )  # fmt: skip


def neighbour_k(cfg_k: int | None, predictor) -> int:
    """The k of the kNN columns: as asked, else the model's vote k (DML), else 10."""
    if cfg_k is not None:
        return int(cfg_k)
    model = predictor.models[0]
    return int(model.knn_k) if getattr(model, "predictor", None) == "knn" else DEFAULT_K


def check_embed_config(cfg: EmbedConfig) -> None:
    """Option ranges, and an output that is none of the inputs (even with --overwrite), before any work."""
    from galcat.paths import check_table_output, refuse_overwriting_inputs
    from galcat.ranges import bound, check_numbers

    check_numbers(
        cfg,
        {
            "k": bound("neighbours", allow_none=True),
            "fold": bound("fold", allow_none=True),
            "batch_size": bound("batch_size"),
        },
    )
    if not cfg.out:
        return
    model = Path(cfg.model)
    inputs = {"--store": cfg.store, "--reference": cfg.reference, "--model": model}
    if model.is_dir():
        inputs["--model (config.json)"] = model / "config.json"
        inputs.update({f"--model ({p.parent.name}/{p.name})": p for p in model.glob("fold*/*.pt")})
    refuse_overwriting_inputs({"--out": cfg.out}, inputs)
    check_table_output(cfg.out, cfg.overwrite)


def embed_catalogue(cfg: EmbedConfig, parts_beside=None) -> Table | None:
    """The store's catalogue with embedding/prediction (and kNN) columns; written to ``cfg.out``.

    Under ``torchrun`` the rows are shared out between the ranks, with the part files beside
    ``cfg.out`` or, for a caller that writes its own output (``classify``), beside ``parts_beside``;
    rank 0 gets the table, every other rank ``None``.
    """
    out = Path(cfg.out) if cfg.out else None
    check_embed_config(cfg)
    if out is not None and out.exists() and not cfg.overwrite:
        raise GalcatError(f"{out}: exists; pass --overwrite to replace it")
    if out is not None:
        from galcat.tables import table_format

        table_format(out)  # unknown extensions fail before the model runs
        if not out.parent.is_dir():
            raise GalcatError(f"{out.parent}: output folder does not exist")
    if cfg.samp and out is None:
        raise GalcatError("--samp needs --out: SAMP sends a written file")
    if cfg.k is not None and cfg.k < 1:
        raise GalcatError(f"--k must be at least 1, got {cfg.k}")
    from galcat.model import load_run
    from galcat.model.predictor import Predictor

    run = load_run(cfg.model, cfg.predict_turns)
    predictor = Predictor.from_run(
        run, cfg.fold, calibrate=False, batch_size=cfg.batch_size, device=cfg.device
    )
    fold = predictor.fold_models[0]
    store = open_checked_store(cfg.store, fold, need_labels=False)
    ref_store = open_checked_store(cfg.reference, fold, need_labels=True) if cfg.reference else None
    with process_group() as info:  # under torchrun, rank 0 alone fits (and saves) a missing calibration
        if cfg.calibrate:
            predictor.temperatures = main_rank_first(
                info,
                predictor.calibrate,
                lambda calibrations: [c.temperature if c else 1.0 for c in calibrations],
            )[1]
        ensemble = embed_store(predictor, cfg.store, store, out if out is not None else parts_beside)
    if ensemble is None:  # a torchrun rank other than 0: rank 0 merges the parts and writes the output
        return None
    embeddings = ensemble.embeddings
    neighbours = None
    if ref_store is not None:
        same = ref_store.fingerprint == store.fingerprint
        neighbours = model_vote_neighbours(ensemble, predictor, ref_store, cfg.k, same)
        if neighbours is None:
            index = reference_index(
                cfg.model, predictor, cfg.reference, ref_store, embeddings=embeddings if same else None
            )
            k = neighbour_k(cfg.k, predictor)
            neighbours = reference_neighbours(embeddings, index, ref_store, fold.scheme, k, same_store=same)
    numbers = list(predictor.numbers)
    label = f"run {Path(cfg.model).name} " + (
        f"fold {numbers[0]}" if len(numbers) == 1 else f"(mean of {len(numbers)} folds)"
    )
    table = annotate_outputs(
        store.catalogue, embeddings, ensemble.probabilities, getattr(fold, "class_names", None),
        getattr(fold, "scheme", None), knn=neighbours, model_label=label, ensemble=ensemble,
        per_fold=cfg.per_fold,
    )  # fmt: skip
    table.meta.update(
        {
            "embed_model": str(cfg.model),
            "embed_folds": ",".join(str(n) for n in numbers),
            "embed_temperatures": ",".join(f"{t:.4f}" for t in ensemble.temperatures),
            "embed_store": str(cfg.store),
            "embed_reference": str(cfg.reference or ""),
            "embed_k": int(neighbours.distances.shape[1]) if neighbours is not None else 0,
        }
    )
    if out is not None:
        from galcat.tables import write_table

        write_table(table, out, overwrite=cfg.overwrite)
        finish_shards(out)
        if cfg.samp:
            from galcat.outputs.samp import offer_table

            offer_table(out, name=out.name)
    return table
