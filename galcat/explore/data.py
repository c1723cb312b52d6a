"""The explorer's data: which catalogue columns are the prediction, its uncertainty and the truth.

A catalogue written by ``galcat embed`` or ``galcat classify`` names its columns by convention
(``pred_<scheme>``, ``pred_prob``, ``p_<class>``, ``p_<class>_std``, ``pred_entropy``,
``pred_agreement``, ``knn_ids``/``knn_labels``/``knn_dists``, ``embedding``); this module reads
them back into plain lists for the page, and every scalar column for the selection export.
"""

from __future__ import annotations

import re

import numpy as np
from astropy.table import Table

from galcat.errors import GalcatError, where
from galcat.outputs.columns import class_column_names, masked_to_str

_NOT_PREDICTION = re.compile(r"^pred_(prob|entropy|agreement)(_|$)|_fold\d+$")
_CLASS_IN_DESCRIPTION = re.compile(r"Probability of class '(.*)' \(")


def classify_output(table: Table) -> bool:
    """Whether the table is a ``galcat classify`` output (the user's table plus galcat's columns)."""
    return "classify_status" in table.colnames


def standard_view(table: Table, store_catalogue=None, path=None) -> Table:
    """The catalogue under the names the explorer reads: ``objid``, ``ra``/``dec`` in degrees and
    galcat's columns under their own names, whatever ``classify`` had to rename (a shallow copy).

    A classify output keeps the user's columns: its positions are ``ra_icrs``/``dec_icrs`` and its
    ids the user's id column, else the kept store's ``objid`` (matched by ``target_row``), else
    ``row N``.
    """
    view = table.copy(copy_data=False)
    for name, new in (table.meta.get("classify_renamed") or {}).items():
        if new in view.colnames:
            if name in view.colnames:
                view.rename_column(name, _free(view, f"{name}_input"))
            view.rename_column(new, name)
    if classify_output(table) and {"ra_icrs", "dec_icrs"} <= set(view.colnames):
        for name in ("ra", "dec"):
            if name in view.colnames:
                view.rename_column(name, _free(view, f"{name}_input"))
            view[name] = view[f"{name}_icrs"]
    if "objid" not in view.colnames:
        view["objid"] = _ids(view, store_catalogue)
    return view


def _free(table: Table, name: str) -> str:
    while name in table.colnames:
        name += "_"
    return name


def _ids(view: Table, store_catalogue) -> list[str]:
    config = view.meta.get("classify_config") or {}
    for column in (config.get("id_column"), config.get("name_column")):
        if column and column in view.colnames:
            return masked_to_str(view[column]).tolist()
    ids = [f"row{i}" for i in range(1, len(view) + 1)]
    if store_catalogue is not None and "target_row" in store_catalogue.colnames:
        for target, objid in zip(
            store_catalogue["target_row"], masked_to_str(store_catalogue["objid"]), strict=True
        ):
            if 1 <= int(target) <= len(ids):
                ids[int(target) - 1] = objid
    return ids


def store_rows(view: Table, store_catalogue) -> np.ndarray:
    """Store row of each catalogue row (-1 where the store has no image for it): by ``target_row``
    for a classify output and its kept store, else by ``objid`` (first occurrence)."""
    rows = np.full(len(view), -1, dtype=np.int64)
    if classify_output(view) and "target_row" in store_catalogue.colnames:
        targets = np.asarray(store_catalogue["target_row"], dtype=np.int64) - 1
        inside = (targets >= 0) & (targets < len(view))
        rows[targets[inside]] = np.flatnonzero(inside)
        return rows
    return rows_by_id(masked_to_str(store_catalogue["objid"]), masked_to_str(view["objid"]))


def rows_by_id(objids, wanted) -> np.ndarray:
    """Row of each wanted id among ``objids`` (first occurrence), -1 where it is absent."""
    first: dict[str, int] = {}
    for row, objid in enumerate(objids):
        first.setdefault(str(objid), row)
    return np.array([first.get(str(w), -1) for w in wanted], dtype=np.int64)


def prediction_column(table: Table, path=None) -> str:
    """``pred_<scheme>``: the predicted class column (not a per-fold one)."""
    names = [c for c in table.colnames if c.startswith("pred_") and not _NOT_PREDICTION.search(c)]
    if not names:
        raise GalcatError(
            f"{where(path)}no predicted class column (pred_<scheme>); explore the output of "
            "`galcat embed` or `galcat classify`"
        )
    return names[0]


def class_names(table: Table, pred: str) -> tuple[list[str], list[str]]:
    """The model's classes and their ``p_<class>`` columns, in column order, named as the model names them.

    ``p_<class>`` columns hold sanitised names; the real name comes from the column description,
    else from the predicted values, else the sanitised fragment itself.
    """
    candidates = set(masked_to_str(table[pred])) - {""}
    for name in table.colnames:
        match = _CLASS_IN_DESCRIPTION.match(str(table[name].description or ""))
        if match:
            candidates.add(match.group(1))
    by_column = {class_column_names([c])[0]: c for c in sorted(candidates)}
    columns = [
        c for c in table.colnames
        if c.startswith("p_") and not c.endswith("_std") and not re.match(r"p_fold\d+$", c)
        and table[c].ndim == 1 and table[c].dtype.kind == "f"
    ]  # fmt: skip
    return [by_column.get(c, c[2:]) for c in columns], columns


def _floats(values, digits: int = 4) -> list:
    """A float column as a JSON-ready list: rounded, None where masked or not finite."""
    data = np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan)
    rounded = np.round(data, digits)
    out = rounded.tolist()
    if not np.isfinite(data).all():
        bad = ~np.isfinite(data)
        flat = np.asarray(out, dtype=object)
        flat[bad] = None
        out = flat.tolist()
    return out


def _codes(values, labels: list[str]) -> list[int]:
    """Index of each value in ``labels`` (appending new labels), -1 for an empty value."""
    position = {name: i for i, name in enumerate(labels)}
    codes = []
    for value in values:
        if value == "":
            codes.append(-1)
            continue
        if value not in position:
            position[value] = len(labels)
            labels.append(value)
        codes.append(position[value])
    return codes


def _split(values, digits: int | None = None) -> list[list]:
    rows = []
    for text in masked_to_str(values):
        parts = [p for p in text.split(",")] if text else []
        rows.append([round(float(p), digits) for p in parts] if digits is not None else parts)
    return rows


def _matrix(table: Table, columns: list[str], n: int) -> list[list]:
    """Per-row lists of the given float columns (0 where masked), rounded for the page."""
    if not columns:
        return [[] for _ in range(n)]
    values = [np.ma.filled(np.ma.asarray(table[c], dtype=np.float64), 0.0) for c in columns]
    return np.round(np.column_stack(values), 4).tolist()


def neighbour_lists(table: Table) -> dict | None:
    """Each row's k nearest references (ids, labels, distances) in ``knn_ids`` order, or None."""
    if "knn_ids" not in table.colnames:
        return None
    ids = _split(table["knn_ids"])
    labels = _split(table["knn_labels"]) if "knn_labels" in table.colnames else [["?"] * len(r) for r in ids]
    if "knn_dists" in table.colnames and table["knn_dists"].ndim == 2:
        dists = _floats(table["knn_dists"], 4)
    else:
        dists = [[None] * len(r) for r in ids]
    return {"ids": ids, "labels": labels, "dists": dists}


def embedding_map(table: Table, method: str = "pca", seed: int = 0) -> dict | None:
    """2-D coordinates of the ``embedding`` column: PCA (default) or t-SNE; None without embeddings."""
    if "embedding" not in table.colnames or table["embedding"].ndim != 2:
        return None
    embedding = np.ma.asarray(table["embedding"], dtype=np.float64)
    every = np.ma.filled(embedding, np.nan)
    valid = np.isfinite(every).all(axis=1)  # a row without an embedding (unclassified) is not drawn
    vectors = every[valid]
    if len(vectors) < 3:
        points = np.zeros((len(vectors), 2))
    elif method == "pca":
        centred = vectors - vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        points = centred @ vt[:2].T
        if points.shape[1] < 2:
            points = np.column_stack([points, np.zeros(len(points))])
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(vectors) - 1) // 3)))
        points = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(vectors)
    else:
        raise GalcatError(f"--map {method!r}: use pca or tsne")
    xy = np.full((len(every), 2), np.nan)
    xy[valid] = points
    return {"method": method, "x": _floats(xy[:, 0], 4), "y": _floats(xy[:, 1], 4)}


def _votable_type(column) -> str | None:
    kind = column.dtype.kind
    if column.ndim != 1:
        return None
    return {"f": "double", "i": "long", "u": "long", "b": "boolean", "U": "char", "S": "char"}.get(kind)


def _vounit(unit) -> str:
    """The unit as VOTable's VOUnit text ('' for none, or one astropy cannot write so)."""
    if unit is None:
        return ""
    try:
        return unit.to_string("vounit")
    except (ValueError, AttributeError):
        return ""


def export_columns(table: Table) -> tuple[list[dict], list[list]]:
    """Every scalar column (description, unit, UCD and values) for the CSV/VOTable export."""
    columns, values = [], []
    for name in table.colnames:
        column = table[name]
        datatype = _votable_type(column)
        if datatype is None:
            continue
        if datatype == "double":
            data = _floats(column, 7)
        elif datatype == "char":
            data = masked_to_str(column).tolist()
        elif datatype == "boolean":
            data = [bool(v) for v in np.ma.filled(np.ma.asarray(column), False)]
        else:
            filled = np.ma.asarray(column)
            data = [
                None if m else int(v) for v, m in zip(filled.data, np.ma.getmaskarray(filled), strict=True)
            ]
        columns.append(
            {
                "name": name,
                "datatype": datatype,
                "unit": _vounit(column.unit),
                "ucd": str((column.meta or {}).get("ucd") or ""),
                "description": str(column.description or ""),
            }
        )
        values.append(data)
    return columns, values


def page_rows(table: Table, path=None) -> dict:
    """The table columns the page shows, with class names turned into codes into ``labels``."""
    if "objid" not in table.colnames:
        raise GalcatError(f"{where(path, column='objid')}the catalogue has no objid column")
    pred = prediction_column(table, path)
    scheme = pred[len("pred_") :]
    classes, prob_columns = class_names(table, pred)
    labels = list(classes)
    true_column = scheme if scheme in table.colnames else None
    n = len(table)

    def optional(name: str, digits: int) -> list:
        return _floats(table[name], digits) if name in table.colnames else [None] * n

    rows = {
        "id": masked_to_str(table["objid"]).tolist(),
        "ra": optional("ra", 6),
        "dec": optional("dec", 6),
        "pred": _codes(masked_to_str(table[pred]), labels),
        "prob": optional("pred_prob", 4),
        "entropy": optional("pred_entropy", 4),
        "agreement": optional("pred_agreement", 3),
        "true": _codes(masked_to_str(table[true_column]), labels) if true_column else [-1] * n,
        "probs": _matrix(table, prob_columns, n),
    }
    std_columns = [f"{c}_std" for c in prob_columns]
    has_std = bool(prob_columns) and all(c in table.colnames for c in std_columns)
    if has_std:
        rows["std"] = _matrix(table, std_columns, n)
    return {
        "rows": rows,
        "classes": classes,
        "labels": labels,
        "scheme": scheme,
        "pred_column": pred,
        "true_column": true_column,
        "has_std": has_std,
        "has_agreement": "pred_agreement" in table.colnames,
        "has_entropy": "pred_entropy" in table.colnames,
    }
