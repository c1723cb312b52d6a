"""The written site in a real headless Chromium: filters, confusion cells, neighbours, map, export."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.browser import open_site, wait_for
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from galcat.outputs.columns import masked_to_str
from galcat.tables import read_table


def shown_ids(driver) -> list[str]:
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#galaxies tbody td.id")]


def shown_rows(driver) -> list[int]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#galaxies tbody tr')).map(r => Number(r.dataset.row))"
    )


@pytest.fixture
def site(page, synthetic):
    catalogue, _, index = synthetic
    open_site(page, index)
    return page, read_table(catalogue)


def test_page_loads_every_row_with_images_and_no_console_errors(site):
    driver, table = site
    assert shown_ids(driver) == list(masked_to_str(table["objid"]))
    assert driver.find_element(By.ID, "count").text == f"{len(table)} of {len(table)} galaxies"
    assert not driver.find_elements(By.CSS_SELECTOR, "#galaxies .placeholder")
    loaded = driver.execute_script(
        "const u = getComputedStyle(document.querySelector('#galaxies .thumb')).backgroundImage;"
        "return u.includes('img/thumb-0.jpg')"
    )
    assert loaded


def test_class_filters_show_exactly_the_rows_of_that_class(site):
    driver, table = site
    pred = masked_to_str(table["pred_hubble9"])
    truth = masked_to_str(table["hubble9"])
    ids = masked_to_str(table["objid"])
    Select(driver.find_element(By.ID, "f-pred")).select_by_visible_text("Sa")
    assert sorted(shown_ids(driver)) == sorted(ids[pred == "Sa"]) and (pred == "Sa").any()
    Select(driver.find_element(By.ID, "f-pred")).select_by_value("-1")
    Select(driver.find_element(By.ID, "f-true")).select_by_visible_text("SBb")
    assert sorted(shown_ids(driver)) == sorted(ids[truth == "SBb"])
    Select(driver.find_element(By.ID, "f-true")).select_by_value("-1")
    driver.find_element(By.ID, "f-mistakes").click()
    assert sorted(shown_ids(driver)) == sorted(ids[pred != truth]) and (pred != truth).any()
    driver.find_element(By.ID, "f-mistakes").click()
    entropy = np.asarray(table["pred_entropy"], dtype=np.float64)
    threshold = float(np.round(np.median(entropy), 2))
    driver.find_element(By.ID, "f-entropy").send_keys(str(threshold))
    assert sorted(shown_ids(driver)) == sorted(ids[np.round(entropy, 4) >= threshold])
    driver.find_element(By.ID, "f-reset").click()
    driver.find_element(By.ID, "f-text").send_keys("00001")
    assert sorted(shown_ids(driver)) == sorted(i for i in ids if "00001" in i.lower())


def test_sorting_by_a_column_orders_the_rows(site):
    driver, table = site
    driver.find_element(By.CSS_SELECTOR, "th[data-key=prob]").click()
    prob = np.round(np.asarray(table["pred_prob"], dtype=float), 4)
    assert [prob[r] for r in shown_rows(driver)] == sorted(prob)
    driver.find_element(By.CSS_SELECTOR, "th[data-key=prob]").click()
    assert [prob[r] for r in shown_rows(driver)] == sorted(prob, reverse=True)


def test_a_confusion_cell_lists_exactly_its_galaxies(site):
    driver, table = site
    pred, truth = masked_to_str(table["pred_hubble9"]), masked_to_str(table["hubble9"])
    ids = masked_to_str(table["objid"])
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-view=report]").click()
    cells = driver.find_elements(By.CSS_SELECTOR, "#confusion button")
    labels = driver.execute_script("return window.GALCAT_DATA.meta.labels")
    assert len(cells) == 81
    for cell in cells:  # every count is the number of catalogue rows with that (true, predicted) pair
        t, p = labels[int(cell.get_attribute("data-true"))], labels[int(cell.get_attribute("data-pred"))]
        assert int(cell.text) == int(((truth == t) & (pred == p)).sum()), (t, p)
    wrong = next(
        c for c in cells if c.get_attribute("data-true") != c.get_attribute("data-pred") and c.text != "0"
    )
    t, p = labels[int(wrong.get_attribute("data-true"))], labels[int(wrong.get_attribute("data-pred"))]
    wrong.click()
    assert driver.find_element(By.ID, "view-table").is_displayed()
    assert sorted(shown_ids(driver)) == sorted(ids[(truth == t) & (pred == p)])


def test_a_galaxy_shows_its_neighbours_in_knn_ids_order(site):
    driver, table = site
    row = 7
    driver.find_element(By.CSS_SELECTOR, f"#galaxies tbody tr[data-row='{row}']").click()
    panel = driver.find_element(By.ID, "panel")
    assert panel.is_displayed() and driver.find_element(By.ID, "panel-id").text == table["objid"][row]
    items = driver.find_elements(By.CSS_SELECTOR, "#panel-neighbours li.neighbour")
    assert [li.get_attribute("data-id") for li in items] == str(table["knn_ids"][row]).split(",")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#panel-neighbours .thumb")) == len(items)
    cells, own = driver.execute_script(  # the reference is the store: neighbours reuse the table's cells
        f"const D = window.GALCAT_DATA; return [D.knn.cells[{row}], "
        f"D.knn.ids[{row}].map(i => D.rows.cell[D.rows.id.indexOf(i)])]"
    )
    assert cells == own and min(cells) >= 0
    probs = driver.find_elements(By.CSS_SELECTOR, "#panel-probs .prob-row")
    assert len(probs) == 9 and len(driver.find_elements(By.CSS_SELECTOR, "#panel-probs .prob-spread")) == 9
    links = driver.find_elements(By.CSS_SELECTOR, "#panel-links a.external")
    assert [a.get_attribute("target") for a in links] == ["_blank"] * 3
    assert any("skyserver.sdss.org" in a.get_attribute("href") for a in links)
    items[0].click()  # a neighbour that is in the catalogue opens it
    assert driver.find_element(By.ID, "panel-id").text == str(table["knn_ids"][row]).split(",")[0]


def test_clicking_a_map_point_opens_that_galaxy(site):
    driver, table = site
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-view=map]").click()
    canvas = driver.find_element(By.ID, "map")
    for row in (3, 40):
        x, y = driver.execute_script(f"return GALCAT.mapPoint({row})")
        ActionChains(driver).move_to_element_with_offset(
            canvas, int(x - canvas.rect["width"] / 2), int(y - canvas.rect["height"] / 2)
        ).click().perform()
        assert driver.find_element(By.ID, "panel-id").text == table["objid"][row]


def test_exported_votable_validates_and_holds_the_selection(site, tmp_path):
    from astropy.io import votable

    driver, table = site
    Select(driver.find_element(By.ID, "f-pred")).select_by_visible_text("E")
    selected = [table["objid"][r] for r in shown_rows(driver)]
    for old in driver.downloads.glob("galcat-selection*"):
        old.unlink()
    driver.find_element(By.ID, "export-votable").click()
    target = driver.downloads / "galcat-selection.vot"
    assert wait_for(lambda: target.is_file() and target.stat().st_size > 0), list(driver.downloads.iterdir())
    assert votable.validate(str(target), output=None), votable.validate(str(target), output="string")
    exported = votable.parse_single_table(str(target)).to_table()
    assert list(exported["objid"]) == selected
    expected = table[[list(table["objid"]).index(i) for i in selected]]
    assert np.allclose(exported["pred_prob"], expected["pred_prob"], atol=1e-6)
    assert list(exported["pred_hubble9"]) == list(expected["pred_hubble9"])
    assert (
        exported["ra"].unit == "deg" and exported["ra"].meta.get("ucd", exported["ra"].info.meta) is not None
    )
    driver.find_element(By.ID, "export-csv").click()
    csv = driver.downloads / "galcat-selection.csv"
    assert wait_for(lambda: csv.is_file() and csv.stat().st_size > 0)
    from astropy.io import ascii

    rows = ascii.read(csv, format="csv")
    assert list(rows["objid"]) == selected and rows.colnames == exported.colnames


def test_neighbours_from_another_store_do_not_open_a_namesake(page, synthetic, tmp_path):
    """The demo's training and unseen stores both number their galaxies SYN000001...: a reference
    galaxy must not open the catalogue galaxy that happens to share its id."""
    from helpers.explore_data import synthetic_explore_inputs

    from galcat.explore.site import ExploreConfig, write_site

    catalogue, store, _ = synthetic
    _, other = synthetic_explore_inputs(tmp_path, seed=1)  # same ids, other images
    result = write_site(
        ExploreConfig(str(catalogue), str(store), str(tmp_path / "site"), reference=str(other))
    )
    open_site(page, result.index)
    page.find_element(By.CSS_SELECTOR, "#galaxies tbody tr[data-row='7']").click()
    items = page.find_elements(By.CSS_SELECTOR, "#panel-neighbours li.neighbour")
    assert items and not page.find_elements(By.CSS_SELECTOR, "#panel-neighbours li.link")
    items[0].click()
    assert page.find_element(By.ID, "panel").get_attribute("data-row") == "7"


def test_a_large_catalogue_pages_the_table(page, tmp_path):
    from helpers.explore_data import synthetic_explore_inputs

    from galcat.explore.site import ExploreConfig, write_site

    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=2, rows=450)
    result = write_site(ExploreConfig(str(catalogue), str(store), str(tmp_path / "site")))
    open_site(page, result.index)
    assert shown_rows(page) == list(range(200))
    assert page.find_element(By.ID, "page-info").text == "page 1 of 3"
    page.find_element(By.ID, "page-next").click()
    page.find_element(By.ID, "page-next").click()
    assert shown_rows(page) == list(range(400, 450)) and page.find_element(By.ID, "page-next").get_attribute(
        "disabled"
    )
    page.find_element(By.ID, "f-text").send_keys("SYN00001")  # a filter goes back to the first page
    assert shown_rows(page) == [r for r in range(450) if "SYN00001" in f"SYN{r + 1:07d}"]
    assert not page.find_element(By.ID, "pager").is_displayed()
