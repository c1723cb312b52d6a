"""A classified catalogue without a model: a synthetic store plus made-up predictions in exactly
the columns ``galcat embed`` writes (annotate_outputs), for the explorer's tests and benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: objids that try to become markup, break quoting or CSV, or reverse the text
HOSTILE_IDS = [
    "<script>window.PWNED=1</script>",
    '<img src=x onerror="window.PWNED=2">',
    'quote\'s "double" `back`',
    "ünïcødé ☃ 銀河 \u202eRTL",
    "a&amp;b</td></tr>",
    "comma,id",
]


def synthetic_explore_inputs(
    folder, n_per_class=6, size=32, seed=0, ids=None, drop_rows=(), k=5, rows: int | None = None
):
    """(catalogue path, store path): store rows 0..n-1, catalogue columns as embed writes them.

    ``ids`` replaces the objids (hostile strings); ``drop_rows`` are catalogue rows whose objid
    is changed so that the store has no image for them. The catalogue is its own kNN reference.
    ``rows`` repeats the rendered galaxies (new ids, shifted positions) up to that many rows, for
    sizes whose rendering would take longer than what is measured.
    """
    from galcat.model.ensemble import normalised_entropy
    from galcat.model.predictor import Prediction
    from galcat.outputs.columns import ReferenceNeighbours, annotate_outputs
    from galcat.schemes import HUBBLE9
    from galcat.store import write_store
    from galcat.synth import synthetic_catalogue_and_images
    from galcat.tables import write_table

    folder = Path(folder)
    table, images = synthetic_catalogue_and_images(HUBBLE9, n_per_class=n_per_class, size=size, seed=seed)
    if rows is not None:
        take = np.arange(rows) % len(table)
        table, images = table[take], images[take]
        table["objid"] = np.char.add("SYN", np.char.zfill(np.arange(1, rows + 1).astype(str), 7))
        table["ra"] = (np.asarray(table["ra"]) + 0.01 * (take // n_per_class)) % 360
    n = len(table)
    if ids is not None:
        table["objid"] = np.asarray(list(ids)[:n] + [f"g{i}" for i in range(len(ids), n)], dtype=str)
    store = write_store(folder / "store.h5", table, images, overwrite=True)
    rng = np.random.default_rng(seed)
    truth = np.array([HUBBLE9.index(str(c)) for c in table["hubble9"]])
    logits = rng.normal(size=(3, n, len(HUBBLE9))) + 1.2 * np.eye(len(HUBBLE9))[truth]
    fold_probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    probs = fold_probs.mean(axis=0)
    embeddings = rng.normal(size=(n, 8)).astype(np.float32)
    ensemble = Prediction(
        class_names=list(HUBBLE9), index=np.arange(n), embeddings=embeddings, folds=[0, 1, 2],
        fold_embeddings=np.stack([embeddings] * 3), temperatures=[1.0] * 3, probabilities=probs,
        std=fold_probs.std(axis=0), entropy=normalised_entropy(probs),
        agreement=(fold_probs.argmax(2) == probs.argmax(1)).mean(0), fold_probabilities=fold_probs,
    )  # fmt: skip
    from galcat.metrics.knn import knn

    distances, order = knn(ensemble.embeddings, ensemble.embeddings, k, exclude_self=True)
    objids = np.asarray(table["objid"]).astype(str)
    knn_result = ReferenceNeighbours(
        distances, np.asarray(table["hubble9"]).astype(str)[order], objids[order]
    )
    out = annotate_outputs(
        table, ensemble.embeddings, probs, list(HUBBLE9), "hubble9", knn=knn_result, ensemble=ensemble
    )
    for row in drop_rows:
        out["objid"][row] = f"missing-{row}"
    path = folder / "catalogue.fits"
    write_table(out, path, overwrite=True)
    return path, store
