"""Headless Chromium through Selenium, with the browser console kept for the tests to read."""

from __future__ import annotations

import time


def start_chromium(chromium: str, chromedriver: str, downloads=None, width: int = 1400, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--allow-file-access-from-files"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option(
            "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
        )
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def console_errors(driver) -> list[str]:
    """Console messages of level SEVERE (script errors, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def open_site(driver, index) -> None:
    """Load a site's index.html (a path or URL) and wait until the script has run."""
    url = index if str(index).startswith("http") else f"file://{index}"
    driver.get(url)
    if not wait_for(lambda: driver.execute_script("return !!(window.GALCAT && window.GALCAT.ready)")):
        raise AssertionError(f"the page did not initialise: {console_errors(driver)}")
