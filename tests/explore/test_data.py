"""The explorer's reading of catalogue columns: class names, masked rows, the map, safe JSON."""

from __future__ import annotations

import json

import numpy as np
from astropy.table import MaskedColumn, Table

from galcat.explore.data import embedding_map, export_columns, page_rows
from galcat.explore.site import script_json
from galcat.outputs.columns import annotate_outputs


def classified(classes, n=12, seed=0) -> Table:
    rng = np.random.default_rng(seed)
    table = Table(
        {"objid": [f"g{i}" for i in range(n)], "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-90, 90, n)}
    )
    table["hubble11"] = np.asarray(classes)[np.arange(n) % len(classes)]
    probs = rng.dirichlet(np.ones(len(classes)), n)
    return annotate_outputs(table, rng.normal(size=(n, 6)), probs, classes, "hubble11")


def test_class_names_come_back_exactly_from_sanitised_columns():
    classes = ["E0", "E3-5", "S0/a", "Sab", "SBa"]
    table = classified(classes)
    page = page_rows(table)
    assert page["classes"] == classes and page["true_column"] == "hubble11"
    assert page["labels"][: len(classes)] == classes
    probs = np.asarray(page["rows"]["probs"])
    assert probs.shape == (12, 5) and np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    for i, code in enumerate(page["rows"]["pred"]):
        assert classes[code] == table["pred_hubble11"][i]


def test_rows_without_a_prediction_have_no_class_and_no_probability():
    table = classified(["E", "Sa", "Sb"])
    table["pred_hubble11"] = MaskedColumn(table["pred_hubble11"], mask=[True] + [False] * 11)
    table["pred_prob"] = MaskedColumn(table["pred_prob"], mask=[True] + [False] * 11)
    rows = page_rows(table)["rows"]
    assert rows["pred"][0] == -1 and rows["prob"][0] is None and rows["prob"][1] is not None
    columns, values = export_columns(table)
    names = [c["name"] for c in columns]
    assert "embedding" not in names and values[names.index("pred_prob")][0] is None
    assert (
        columns[names.index("ra")]["unit"] == "deg"
        and columns[names.index("ra")]["ucd"] == "pos.eq.ra;meta.main"
    )


def test_the_map_is_pca_by_default_and_tsne_on_request():
    table = classified(["E", "Sa", "Sb"], n=40)
    pca = embedding_map(table)
    vectors = np.asarray(table["embedding"], dtype=float)
    centred = vectors - vectors.mean(axis=0)
    first = np.linalg.svd(centred, full_matrices=False)[2][0]
    assert np.allclose(np.abs(pca["x"]), np.abs(np.round(centred @ first, 4)), atol=2e-4)
    tsne = embedding_map(table, "tsne")
    assert tsne["method"] == "tsne" and len(tsne["x"]) == 40 and np.isfinite(tsne["y"]).all()


def test_page_data_cannot_close_its_script_or_break_a_line():
    text = script_json({"id": "</script><script>alert(1)</script>\u2028&"})
    assert "<" not in text and ">" not in text and "\u2028" not in text and "&" not in text
    assert json.loads(text) == {"id": "</script><script>alert(1)</script>\u2028&"}
