"""Screenshots of an explorer in headless Chromium: the table, a galaxy with its neighbours, the map
and the report tab.

Used by the README demo test and by hand:
``python tests/helpers/explore_shots.py demo/explore/index.html OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.browser import console_errors, open_site, start_chromium  # noqa: E402


def take_screenshots(driver, index, out_dir) -> dict[str, Path]:
    """PNGs of the site at ``index``; the galaxy is the first mistake (else the first row)."""
    from selenium.webdriver.common.by import By

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    open_site(driver, Path(index).resolve())
    shots = {"table": out / "table.png", "galaxy": out / "galaxy.png", "map": out / "map.png"}
    driver.save_screenshot(str(shots["table"]))
    rows = driver.find_elements(By.CSS_SELECTOR, "#galaxies tbody tr.mistake") or driver.find_elements(
        By.CSS_SELECTOR, "#galaxies tbody tr"
    )
    rows[0].click()
    size = driver.get_window_size()
    driver.set_window_size(size["width"], 1500)  # the whole panel: image, probabilities, neighbours
    driver.save_screenshot(str(shots["galaxy"]))
    driver.set_window_size(size["width"], size["height"])
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-view=map]").click()
    driver.save_screenshot(str(shots["map"]))
    shots["report"] = out / "report.png"
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-view=report]").click()
    driver.find_element(By.ID, "panel-close").click()
    driver.set_window_size(size["width"], 2400)
    driver.save_screenshot(str(shots["report"]))
    driver.set_window_size(size["width"], size["height"])
    errors = console_errors(driver)
    if errors:
        raise AssertionError(f"console errors on {index}: {errors}")
    return shots


def main(argv: list[str]) -> None:
    index, out = argv[1], argv[2]
    driver = start_chromium("/usr/bin/chromium", "/usr/bin/chromedriver")
    try:
        for name, path in take_screenshots(driver, index, out).items():
            print(f"{name}: {path}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv)
