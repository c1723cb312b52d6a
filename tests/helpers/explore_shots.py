"""Screenshots of an explorer in headless Chromium: the table, a galaxy with its neighbours, the map.

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
    """Three PNGs of the site at ``index``; the galaxy is the first mistake (else the first row)."""
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
    driver.execute_script("document.getElementById('panel-neighbours').scrollIntoView({block: 'end'})")
    driver.save_screenshot(str(shots["galaxy"]))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-view=map]").click()
    driver.save_screenshot(str(shots["map"]))
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
