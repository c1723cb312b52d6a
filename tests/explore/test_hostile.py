"""Hostile catalogues in the explorer: markup and quotes in ids render as text, missing images and
a missing reference degrade with a visible note, bad options are one-line errors."""

from __future__ import annotations

import csv
import io

import pytest
from astropy.io import votable
from helpers.browser import open_site
from helpers.cli import invoke, one_line_error
from helpers.explore_data import HOSTILE_IDS, synthetic_explore_inputs
from selenium.webdriver.common.by import By

from galcat.explore.site import ExploreConfig, write_site


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A site whose ids and title are markup, row 9's image missing, written without --reference."""
    folder = tmp_path_factory.mktemp("explore-hostile")
    catalogue, store = synthetic_explore_inputs(folder, n_per_class=2, ids=HOSTILE_IDS, drop_rows=(9,), k=3)
    title = '</title><script>window.PWNED=3</script> "galaxies"'
    result = write_site(ExploreConfig(str(catalogue), str(store), str(folder / "site"), title=title))
    return result, title


def test_markup_in_ids_and_title_renders_as_text(page, hostile):
    result, title = hostile
    open_site(page, result.index)
    assert page.execute_script("return window.PWNED === undefined")
    assert page.title == title and page.find_element(By.ID, "title").text == title
    ids = [td.get_attribute("textContent") for td in page.find_elements(By.CSS_SELECTOR, "#galaxies td.id")]
    assert ids[: len(HOSTILE_IDS)] == HOSTILE_IDS
    assert not page.find_elements(By.CSS_SELECTOR, "#galaxies tbody img, #galaxies tbody script")
    page.find_element(By.CSS_SELECTOR, "#galaxies tbody tr[data-row='0']").click()
    assert page.find_element(By.ID, "panel-id").get_attribute("textContent") == HOSTILE_IDS[0]
    assert page.execute_script("return window.PWNED === undefined")
    vot = page.execute_script("return GALCAT.exportVOTable()")
    assert "<script>" not in vot and "&lt;script&gt;window.PWNED=1&lt;/script&gt;" in vot
    exported = votable.parse_single_table(io.BytesIO(vot.encode())).to_table()
    assert list(exported["objid"][: len(HOSTILE_IDS)]) == HOSTILE_IDS
    rows = list(csv.reader(io.StringIO(page.execute_script("return GALCAT.exportCSV()"))))
    objid = rows[0].index("objid")
    assert [r[objid] for r in rows[1 : len(HOSTILE_IDS) + 1]] == HOSTILE_IDS


def test_a_row_without_a_store_image_shows_a_placeholder(page, hostile):
    result, _ = hostile
    assert any("no image in the store" in note for note in result.notes)
    open_site(page, result.index)
    rows = page.find_elements(By.CSS_SELECTOR, "#galaxies tbody tr")
    assert rows[9].find_elements(By.CSS_SELECTOR, ".placeholder")
    assert len(page.find_elements(By.CSS_SELECTOR, "#galaxies tbody .placeholder")) == 1
    assert "no image in the store" in page.find_element(By.ID, "notes").text


def test_without_reference_neighbours_are_listed_without_images_and_a_note(page, hostile):
    result, _ = hostile
    open_site(page, result.index)
    page.find_element(By.CSS_SELECTOR, "#galaxies tbody tr[data-row='2']").click()
    assert "No --reference store" in page.find_element(By.ID, "panel-nn-note").text
    items = page.find_elements(By.CSS_SELECTOR, "#panel-neighbours li")
    assert len(items) == 3 and not page.find_elements(By.CSS_SELECTOR, "#panel-neighbours .thumb")


def test_a_catalogue_without_knn_columns_has_no_neighbours_and_says_why(page, tmp_path):
    from galcat.tables import read_table, write_table

    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=1)
    table = read_table(catalogue)
    table.remove_columns(["knn_ids", "knn_labels", "knn_dists"])
    write_table(table, tmp_path / "plain.ecsv")
    result = write_site(ExploreConfig(str(tmp_path / "plain.ecsv"), str(store), str(tmp_path / "site")))
    open_site(page, result.index)
    page.find_element(By.CSS_SELECTOR, "#galaxies tbody tr").click()
    assert "no knn_ids column" in page.find_element(By.ID, "panel-nn-note").text
    assert not page.find_elements(By.CSS_SELECTOR, "#panel-neighbours li")


@pytest.mark.parametrize(
    "case, needles",
    [
        ("missing-catalogue", ("nope.fits", "catalogue not found")),
        ("missing-store", ("nope.h5", "--store store not found")),
        ("not-a-prediction", ("no predicted class column",)),
        ("bad-map", ("--map 'umap'",)),
        ("existing-site", ("already holds a site", "--overwrite")),
        ("no-out", ("--out is required",)),
    ],
)
def test_bad_explore_invocations_are_one_line_errors(tmp_path, case, needles):
    from galcat.tables import read_table, write_table

    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=1)
    args = [catalogue, "--store", store, "--out", tmp_path / "site"]
    if case == "missing-catalogue":
        args[0] = tmp_path / "nope.fits"
    elif case == "missing-store":
        args[2] = tmp_path / "nope.h5"
    elif case == "not-a-prediction":
        table = read_table(catalogue)
        table.keep_columns(["objid", "ra", "dec"])
        write_table(table, tmp_path / "plain.fits")
        args[0] = tmp_path / "plain.fits"
    elif case == "bad-map":
        args += ["--map", "umap"]
    elif case == "existing-site":
        assert invoke("explore", *args).exit_code == 0
    elif case == "no-out":
        args = args[:3]
    one_line_error(invoke("explore", *args), *needles)
