"""Model outputs as annotated catalogue columns (units, UCD1+ words, descriptions).

The columns are written so that TOPCAT, STILTS and astropy understand them without galcat:
names are FITS/VOTable-safe identifiers (the original class name goes into the description),
every column carries a UCD that passes astropy's VOTable UCD check, and RA/Dec are flagged as
the main position so that TOPCAT's sky cross-match picks them up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.tables import DEC_UCD, RA_UCD

#: UCD1+ words for every column this module writes (checked against astropy's vocabulary in tests).
UCDS = {
    "embedding": "stat.fit.param;src.morph",
    "pred": "meta.code.class;src.morph.type",
    "pred_prob": "stat.probability;src.morph.type",
    "p_class": "stat.probability",
    "knn": "meta.code.class;src.morph.type",
    "knn_frac": "stat.value",
    "knn_dist": "stat.value;arith.diff",
    "nn_objid": "meta.id.cross",
    "anomaly_score": "stat.value",
    "knn_ids": "meta.id.cross",
    "knn_labels": "meta.code.class;src.morph.type",
    "knn_dists": "stat.value;arith.diff",
    "p_class_std": "stat.stdev;stat.probability",
    "pred_entropy": "stat.value;stat.probability",
    "pred_agreement": "stat.value;src.morph.type",
    "p_fold": "stat.probability",
}

#: UCDs for the standard catalogue columns (architecture.md, "Standard catalogue table").
STANDARD_UCDS = {
    "objid": ("meta.id;meta.main", None),
    "ra": (RA_UCD, u.deg),
    "dec": (DEC_UCD, u.deg),
    "hubble9": ("src.morph.type", None),
    "hubble11": ("src.morph.type", None),
    "label_reason": ("meta.note", None),
}


@dataclass
class ReferenceNeighbours:
    """The k nearest labelled references of every query row (row-aligned with the catalogue).

    ``distances`` (n, k) are L2 distances between L2-normalised embeddings, nearest first;
    ``labels`` (n, k) the references' class names; ``objids`` (n, k) their ids; ``classes`` the
    scheme's class names in code order (the order in which the vote breaks ties, as the model's).
    ``source`` says which references these are, for the column descriptions.
    """

    distances: np.ndarray
    labels: np.ndarray
    objids: np.ndarray
    classes: list[str] | None = None
    source: str = "reference objects"


def sanitize_name(name: str) -> str:
    """A FITS/VOTable-safe column name fragment: 'E3-5' -> 'E3_5', 'S0/a' -> 'S0_a'."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "x"
    return clean if not clean[0].isdigit() else "c" + clean


def class_column_names(class_names, prefix: str = "p_") -> list[str]:
    """One column name per class, unique even case-insensitively (FITS ignores case)."""
    names, taken = [], set()
    for cls in class_names:
        base = prefix + sanitize_name(cls)
        name, suffix = base, 1
        while name.lower() in taken:
            suffix += 1
            name = f"{base}_{suffix}"
        taken.add(name.lower())
        names.append(name)
    return names


def vote_labels(labels: np.ndarray, distances: np.ndarray, classes=None) -> tuple[np.ndarray, np.ndarray]:
    """Winner of each row's distance-weighted (1/d) neighbour vote and its vote probability.

    The rule of a DML model's own prediction (:func:`galcat.model.vote.vote_probabilities`, a
    1e-3 uniform prior mixed in): ties go to the first class of ``classes`` (default: sorted).
    """
    from galcat.model.vote import vote_probabilities

    labels = np.asarray(labels, dtype=str)
    classes = np.asarray(sorted(set(labels.ravel())) if classes is None else [str(c) for c in classes])
    order = np.argsort(classes, kind="stable")
    codes = order[np.searchsorted(classes[order], labels)]
    if len(classes) and not np.array_equal(classes[codes], labels):
        raise GalcatError(f"neighbour labels {sorted(set(labels.ravel()) - set(classes))} are not classes")
    probs = vote_probabilities(distances, codes, max(len(classes), 1))
    best = probs.argmax(axis=1)
    return classes[best].astype(str), probs[np.arange(len(best)), best].astype(np.float32)


def _set(table: Table, name: str, data, *, ucd: str, description: str, unit=None) -> None:
    column = Column(data, name=name, unit=unit, description=description)
    column.meta["ucd"] = ucd
    if name in table.colnames:
        table.replace_column(name, column)
    else:
        table.add_column(column)


def annotate_standard_columns(table: Table) -> Table:
    """Add units/UCDs to the standard catalogue columns (objid, ra, dec, labels) in place."""
    for name, (ucd, unit) in STANDARD_UCDS.items():
        if name not in table.colnames:
            continue
        column = table[name]
        column.meta["ucd"] = ucd
        if unit is not None:
            column.unit = unit
        if not column.description:
            column.description = {
                "objid": "Object identifier in the source catalogue",
                "ra": "Right ascension (ICRS)",
                "dec": "Declination (ICRS)",
                "hubble9": "Catalogue Hubble class, 9-class scheme",
                "hubble11": "Catalogue Hubble class, 11-class scheme",
                "label_reason": "Why the object has no label (empty when labelled)",
            }[name]
    return table


def annotate_outputs(
    table: Table,
    embeddings: np.ndarray,
    probs: np.ndarray | None,
    class_names,
    scheme: str | None,
    knn: ReferenceNeighbours | None = None,
    model_label: str = "the model",
    ensemble=None,
    per_fold: bool = False,
) -> Table:
    """Return a copy of ``table`` with embedding, prediction and kNN columns added.

    ``embeddings`` (n, D) and ``probs`` (n, C) must be row-aligned with ``table``; the embedding
    is stored L2-normalised because every distance (kNN, index, anomaly score) is measured there.
    ``ensemble`` (a :class:`galcat.model.predictor.Prediction`) adds the uncertainty
    columns: ``pred_entropy`` always, ``p_<class>_std`` and ``pred_agreement`` for several folds,
    and with ``per_fold`` each fold's prediction.
    """
    n = len(table)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape[0] != n:
        raise GalcatError(f"embeddings have shape {embeddings.shape}, expected ({n}, D) for {n} rows")
    out = annotate_standard_columns(table.copy(copy_data=True))
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit_vectors = (embeddings / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    _set(
        out,
        "embedding",
        unit_vectors,
        ucd=UCDS["embedding"],
        description=f"L2-normalised {embeddings.shape[1]}-d morphology embedding from {model_label}",
    )
    class_names = [str(c) for c in class_names] if class_names is not None else []
    if probs is not None:
        _add_prediction_columns(out, np.asarray(probs, dtype=np.float32), class_names, scheme, model_label)
        if ensemble is not None and ensemble.fold_probabilities is not None:
            _add_uncertainty_columns(out, ensemble, class_names, scheme, per_fold)
    if knn is not None:
        _add_knn_columns(out, knn, scheme)
    return out


def _add_top_class(out: Table, probs: np.ndarray, class_names, scheme, suffix: str, source: str) -> None:
    """``pred_<scheme><suffix>`` (the most probable class) and ``pred_prob<suffix>`` (its probability)."""
    best = probs.argmax(axis=1)
    _set(
        out,
        f"pred_{sanitize_name(scheme or 'class')}{suffix}",
        np.asarray(class_names, dtype=str)[best],
        ucd=UCDS["pred"],
        description=f"Predicted {scheme or 'class'} class (highest probability) from {source}",
    )
    _set(
        out,
        f"pred_prob{suffix}",
        probs[np.arange(len(out)), best],
        ucd=UCDS["pred_prob"],
        description=f"Probability of the class predicted by {source}",
    )


def _add_prediction_columns(out: Table, probs: np.ndarray, class_names, scheme, model_label) -> None:
    n = len(out)
    if probs.shape != (n, len(class_names)):
        raise GalcatError(f"class probabilities have shape {probs.shape}, expected ({n}, {len(class_names)})")
    _add_top_class(out, probs, class_names, scheme, "", model_label)
    for index, (cls, colname) in enumerate(zip(class_names, class_column_names(class_names), strict=True)):
        _set(
            out,
            colname,
            probs[:, index],
            ucd=UCDS["p_class"],
            description=f"Probability of class '{cls}' ({scheme or 'class'} scheme)",
        )


def _add_uncertainty_columns(out: Table, ensemble, class_names, scheme, per_fold: bool) -> None:
    folds = list(ensemble.folds)
    k = len(folds)
    label = scheme or "class"
    columns = [
        ("pred_entropy", ensemble.entropy, "pred_entropy",
         f"Entropy of the class probabilities / ln({len(class_names)}): 0 certain, 1 uniform"),
    ]  # fmt: skip
    if k > 1:
        names = class_column_names(class_names)
        columns += [
            (f"{colname}_std", ensemble.std[:, index], "p_class_std",
             f"Standard deviation over the {k} folds of the probability of class '{cls}'")
            for index, (cls, colname) in enumerate(zip(class_names, names, strict=True))
        ]  # fmt: skip
        columns.append(
            ("pred_agreement", ensemble.agreement, "pred_agreement",
             f"Fraction of the {k} fold models whose top {label} class is the ensemble's")
        )  # fmt: skip
    for name, values, ucd_key, description in columns:
        _set(out, name, np.asarray(values, dtype=np.float32), ucd=UCDS[ucd_key], description=description)
    if not per_fold:
        return
    for position, number in enumerate(folds):
        probs = np.asarray(ensemble.fold_probabilities[position], dtype=np.float32)
        _add_top_class(
            out, probs, class_names, scheme, f"_fold{number}", f"fold {number}'s model (temperature-scaled)"
        )
        _set(
            out,
            f"p_fold{number}",
            probs,
            ucd=UCDS["p_fold"],
            description=f"Fold {number}'s class probabilities in the order {', '.join(class_names)}",
        )


def _add_knn_columns(out: Table, knn: ReferenceNeighbours, scheme) -> None:
    n, k = knn.distances.shape
    if n != len(out):
        raise GalcatError(f"kNN results have {n} rows, the catalogue has {len(out)}")
    winners, fractions = vote_labels(knn.labels, knn.distances, knn.classes)
    scheme_name = sanitize_name(scheme or "class")
    _set(
        out,
        f"knn_{scheme_name}",
        winners,
        ucd=UCDS["knn"],
        description=f"{scheme or 'class'} class winning the distance-weighted (1/d) vote of the {k} nearest "
        f"{knn.source} (a DML model's own rule)",
    )
    _set(
        out,
        "knn_frac",
        fractions,
        ucd=UCDS["knn_frac"],
        description="Probability of the winning class in that vote (1/d weights, 1e-3 uniform prior)",
    )
    _set(
        out,
        "knn_dist",
        knn.distances[:, 0].astype(np.float32),
        ucd=UCDS["knn_dist"],
        description="Embedding-space L2 distance to the nearest reference object",
    )
    _set(
        out,
        "nn_objid",
        np.asarray(knn.objids[:, 0], dtype=str),
        ucd=UCDS["nn_objid"],
        description="objid of the nearest reference object",
    )
    _set(
        out,
        "anomaly_score",
        knn.distances.mean(axis=1).astype(np.float32),
        ucd=UCDS["anomaly_score"],
        description=f"Mean embedding-space distance to the {k} nearest references (high = unusual)",
    )
    # all k neighbours, nearest first: ids and labels as comma-separated text (TOPCAT-friendly)
    joined = {"knn_ids": knn.objids, "knn_labels": knn.labels}
    texts = {"knn_ids": "objids", "knn_labels": f"{scheme or 'class'} classes", "knn_dists": "distances"}
    for column, text in texts.items():
        if column in joined:
            values = np.array([",".join(map(str, row)) for row in joined[column]], dtype=str)
        else:
            values = knn.distances.astype(np.float32)
        _set(
            out, column, values, ucd=UCDS[column],
            description=f"{text.capitalize()} of the {k} nearest references (embedding), nearest first",
        )  # fmt: skip


def masked_to_str(values) -> np.ndarray:
    """Strings for catalogue values, '' where masked (for labels and ids read from a store)."""
    if isinstance(values, MaskedColumn) or np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values)
        return np.array(["" if m else str(v) for v, m in zip(np.asarray(values), mask, strict=True)])
    return np.asarray(values).astype(str)
