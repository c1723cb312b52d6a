"""``galcat explore`` on a 10^4-row catalogue: writing the site, its size, and the page in Chromium.

Builds a synthetic store (``--unique`` rendered galaxies per class, repeated to ``--rows``) and a
catalogue with the columns ``galcat embed`` writes (made-up predictions, real k-NN columns), then
measures in one process:

- the time to write the site (``write_site``), and its parts measured alone: reading the
  catalogue, cutting the JPEG sprite sheets, the page data; the ratio says what dominates;
- the site's size on disk (images vs data);
- in headless Chromium (Debian's chromium + chromedriver): time to first render (navigation
  start to the table drawn, with the data script's share), and the time to apply a class filter
  and an id search, against the 16.7 ms frame budget of a 60 Hz display (ratio < 1: smooth).

Usage: ``python benchmarks/explore.py [--rows 10000] [--size 64] [--repeats 5]``.
The last line printed is JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

FRAME_MS = 1000 / 60


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_parts(catalogue: Path, store: Path, work: Path, thumb: int, large: int) -> dict:
    """The site's costly steps timed alone, with the same inputs write_site uses."""
    import numpy as np

    from galcat.explore.data import embedding_map, export_columns, neighbour_lists, page_rows
    from galcat.explore.site import script_json
    from galcat.explore.sprites import SheetSet, write_sheets
    from galcat.store import open_store
    from galcat.tables import read_table

    t = time.perf_counter()
    table = read_table(catalogue)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    data = {"page": page_rows(table), "knn": neighbour_lists(table), "map": embedding_map(table),
            "export": export_columns(table)}  # fmt: skip
    text = script_json(data)
    data_s = time.perf_counter() - t
    (work / "img").mkdir(parents=True)
    t = time.perf_counter()
    with open_store(store) as opened:
        sets = [SheetSet("img/t-", thumb), SheetSet("img/l-", large)]
        write_sheets(work, sets, opened, np.arange(len(opened)))
    sheets_s = time.perf_counter() - t
    return {"read_catalogue_s": read_s, "page_data_s": data_s, "sprite_sheets_s": sheets_s,
            "data_chars": len(text)}  # fmt: skip


def browser_times(index: Path, repeats: int) -> dict:
    from helpers.browser import console_errors, open_site, start_chromium

    driver = start_chromium("/usr/bin/chromium", "/usr/bin/chromedriver")
    firsts, inits, data_fetch, filters, searches = [], [], [], [], []
    try:
        for _ in range(repeats):
            open_site(driver, index)
            timings = driver.execute_script("return GALCAT.timings")
            firsts.append(timings["ready_at_ms"])
            inits.append(timings["init_ms"])
            data_fetch.append(driver.execute_script("return window.GALCAT_DATA_AT"))
            filters.append(driver.execute_script(
                "const s = document.getElementById('f-pred'); s.value = '3'; const t = performance.now();"
                "s.dispatchEvent(new Event('change')); const d = performance.now() - t;"
                "s.value = '-1'; s.dispatchEvent(new Event('change')); return d"
            ))  # fmt: skip
            searches.append(driver.execute_script(
                "const s = document.getElementById('f-text'); s.value = '0042'; const t = performance.now();"
                "s.dispatchEvent(new Event('input')); const d = performance.now() - t;"
                "s.value = ''; s.dispatchEvent(new Event('input')); return d"
            ))  # fmt: skip
        errors = console_errors(driver)
    finally:
        driver.quit()
    if errors:
        raise SystemExit(f"console errors: {errors}")
    med = statistics.median
    return {"first_render_ms": med(firsts), "init_ms": med(inits), "data_loaded_ms": med(data_fetch),
            "filter_ms": med(filters), "search_ms": med(searches)}  # fmt: skip


def main() -> None:
    from helpers.explore_data import synthetic_explore_inputs

    from galcat.explore.site import ExploreConfig, write_site
    from galcat.schemes import HUBBLE9

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64, help="store image side")
    parser.add_argument("--unique", type=int, default=50, help="rendered galaxies per class (then repeated)")
    parser.add_argument("--repeats", type=int, default=5, help="page loads in Chromium (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="galcat-bench-explore-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        catalogue, store = synthetic_explore_inputs(
            work, n_per_class=args.unique, size=args.size, k=10, rows=args.rows
        )
        unique = args.unique * len(HUBBLE9)
        print(
            f"inputs: {args.rows} rows ({unique} rendered galaxies), {args.size} px "
            f"({time.perf_counter() - t:.1f} s)"
        )
        cfg = ExploreConfig(str(catalogue), str(store), str(work / "site"), reference=str(store))
        result = write_site(cfg)
        parts = write_parts(catalogue, store, work / "parts", cfg.thumb_size, min(cfg.image_size, args.size))
        site = work / "site"
        sizes = {"site_bytes": result.size_bytes, "img_bytes": folder_bytes(site / "img"),
                 "data_bytes": folder_bytes(site / "data")}  # fmt: skip
        browser = browser_times(site / "index.html", args.repeats)
    figures = {"rows": result.n_rows, "write_site_s": result.seconds, **parts, **sizes, **browser}
    figures["sheets_share_of_write"] = parts["sprite_sheets_s"] / result.seconds
    figures["data_share_of_write"] = (parts["read_catalogue_s"] + parts["page_data_s"]) / result.seconds
    figures["filter_over_frame"] = browser["filter_ms"] / FRAME_MS
    figures["search_over_frame"] = browser["search_ms"] / FRAME_MS
    figures["init_share_of_first_render"] = browser["init_ms"] / browser["first_render_ms"]
    figures["data_share_of_first_render"] = browser["data_loaded_ms"] / browser["first_render_ms"]
    f, share = figures, {k: 100 * v for k, v in figures.items() if "share" in k}
    data_s = parts["read_catalogue_s"] + parts["page_data_s"]
    print(
        f"write site: {result.seconds:.2f} s for {result.n_rows} rows; alone: sprite sheets "
        f"{parts['sprite_sheets_s']:.2f} s ({share['sheets_share_of_write']:.0f} %), "
        f"catalogue read + page data {data_s:.2f} s ({share['data_share_of_write']:.0f} %)"
    )
    print(
        f"size: {result.size_bytes / 1e6:.1f} MB (images {sizes['img_bytes'] / 1e6:.1f} MB, "
        f"data {sizes['data_bytes'] / 1e6:.1f} MB)"
    )
    print(
        f"first render: {browser['first_render_ms']:.0f} ms from navigation start; data script loaded "
        f"and run at {browser['data_loaded_ms']:.0f} ms ({share['data_share_of_first_render']:.0f} %); "
        f"page init (filters, confusion, first table page) {browser['init_ms']:.0f} ms "
        f"({share['init_share_of_first_render']:.0f} %)"
    )
    print(
        f"class filter: {browser['filter_ms']:.1f} ms = {f['filter_over_frame']:.2f} frames; "
        f"id search: {browser['search_ms']:.1f} ms = {f['search_over_frame']:.2f} frames (60 Hz)"
    )
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
