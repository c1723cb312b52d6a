"""Fixtures of the explorer tests: a real headless Chromium and written sites.

The browser is Debian's ``chromium`` driven by its ``chromedriver`` through Selenium; without
them these tests skip on a developer machine and fail under CI (``require_tool``).
"""

from __future__ import annotations

import pytest
from helpers.browser import console_errors, start_chromium
from helpers.explore_data import synthetic_explore_inputs


@pytest.fixture(scope="session")
def browser(require_tool, tmp_path_factory):
    """One headless Chromium for the session (downloads go to ``browser.downloads``)."""
    chromium, chromedriver = require_tool("chromium"), require_tool("chromedriver")
    downloads = tmp_path_factory.mktemp("downloads")
    driver = start_chromium(chromium, chromedriver, downloads=downloads)
    driver.downloads = downloads
    try:
        driver.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser):
    """The browser with its console emptied before the test and checked for errors after it."""
    console_errors(browser)
    yield browser
    errors = console_errors(browser)
    assert not errors, errors


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """(catalogue, store, site index): 54 synthetic galaxies, their own reference, 3 'folds'."""
    from galcat.explore.site import ExploreConfig, write_site

    folder = tmp_path_factory.mktemp("explore-synthetic")
    catalogue, store = synthetic_explore_inputs(folder)
    result = write_site(ExploreConfig(str(catalogue), str(store), str(folder / "site"), reference=str(store)))
    return catalogue, store, result.index
