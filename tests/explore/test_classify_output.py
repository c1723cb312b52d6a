"""A ``galcat classify`` output explored: the user's ids and columns, galcat's renamed columns,
ICRS positions, and images found through the kept store's ``target_row`` (not by id)."""

from __future__ import annotations

import json

import numpy as np
from astropy.table import MaskedColumn
from helpers.explore_data import synthetic_explore_inputs
from PIL import Image

from galcat.explore.site import ExploreConfig, write_site
from galcat.store import open_store, write_store
from galcat.tables import read_table, write_table

FAILED = 4  # the target row (0-based) whose cutout failed: no store row, no prediction


def classify_like(tmp_path):
    """(output table path, kept store path, synthetic store path) shaped as classify writes them."""
    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=2)
    table = read_table(catalogue)
    n = len(table)
    keep = [r for r in reversed(range(n)) if r != FAILED]  # the kept store holds rows in another order
    with open_store(store) as opened:
        images = opened.read_images(np.arange(n))[keep]
        kept = opened.catalogue[keep]
    kept["objid"] = [f"T{r + 1}" for r in keep]
    kept["target_row"] = np.asarray(keep) + 1
    kept_store = write_store(tmp_path / "kept.h5", kept, images)
    out = table.copy()
    out.rename_column("objid", "SDSSID")
    out["SDSSID"] = [f"sdss-{r}" for r in range(n)]
    out.rename_column("ra", "ra_icrs")
    out.rename_column("dec", "dec_icrs")
    out["ra"] = ["12:30:49.4"] * n  # the user's own sexagesimal column stays untouched
    out.rename_column("pred_prob", "pred_prob_galcat")
    out["pred_prob"] = ["the user's own column"] * n
    out["pred_hubble9"] = MaskedColumn(out["pred_hubble9"], mask=np.arange(n) == FAILED)
    failed = np.zeros(out["embedding"].shape, dtype=bool)
    failed[FAILED] = True
    out["embedding"] = MaskedColumn(out["embedding"], mask=failed)
    out["classify_status"] = ["download failed" if r == FAILED else "ok" for r in range(n)]
    out.remove_column("hubble9")
    out.meta["classify_config"] = {"id_column": "SDSSID"}
    out.meta["classify_renamed"] = {"pred_prob": "pred_prob_galcat"}
    path = tmp_path / "classified.fits"
    write_table(out, path)
    return path, kept_store, store, table


def test_a_classify_output_finds_its_images_by_target_row(tmp_path):
    path, kept_store, store, table = classify_like(tmp_path)
    result = write_site(ExploreConfig(str(path), str(kept_store), str(tmp_path / "site")))
    text = (result.out / "data" / "galaxies.js").read_text()
    data = json.loads(text[len("window.GALCAT_DATA = ") : text.index(";\nwindow.GALCAT_DATA_AT")])
    rows = data["rows"]
    n = len(table)
    assert rows["id"] == [f"sdss-{r}" for r in range(n)]
    assert np.allclose(rows["ra"], np.round(np.asarray(table["ra"], dtype=float), 6))
    assert np.allclose(rows["prob"], np.round(np.asarray(table["pred_prob"], dtype=float), 4))
    assert rows["pred"][FAILED] == -1 and rows["cell"][FAILED] == -1
    assert data["map"]["x"][FAILED] is None and None not in data["map"]["x"][FAILED + 1 :]
    assert result.notes and "1 of 18" in result.notes[0]
    sheet = np.asarray(Image.open(result.out / "img" / "thumb-0.jpg"), dtype=float)
    size = data["sheets"]["thumb"]["size"]
    with open_store(store) as opened:
        originals = opened.read_images(np.arange(n))
    for r in range(n):
        cell = rows["cell"][r]
        if r == FAILED:
            continue
        shown = sheet[
            (cell // 10) * size : (cell // 10 + 1) * size, (cell % 10) * size : (cell % 10 + 1) * size
        ]
        diffs = [
            np.abs(shown - np.asarray(Image.fromarray(o).resize((size, size)), float)).mean()
            for o in originals
        ]
        assert int(np.argmin(diffs)) == r, (r, cell)
    names = [c["name"] for c in data["export"]["columns"]]
    assert {"SDSSID", "ra", "pred_prob", "pred_prob_galcat", "classify_status"} <= set(names)


def test_serving_a_classify_output_skips_the_unclassified_row(tmp_path):
    from galcat.errors import GalcatError
    from galcat.explore.search import SimilaritySearch

    path, kept_store, _, table = classify_like(tmp_path)
    search = SimilaritySearch(str(path), str(kept_store))
    answer = search.by_text("sdss-7", 17)
    rows = [n["row"] for n in answer.neighbours]
    assert sorted(rows) == [r for r in range(len(table)) if r not in (7, FAILED)]
    try:
        search.by_text("sdss-4", 3)
    except GalcatError as exc:
        assert "has no embedding" in str(exc)
    else:
        raise AssertionError("the unclassified row was searched")
