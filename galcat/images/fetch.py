"""Fetch every row of a catalogue with bounded concurrency, yielding results as they complete.

Results carry their ``row_index``, so callers never rely on completion order. At most
``2 * workers`` rows are in flight, so a 240k-row catalogue never holds more than a handful of
decoded images in memory. A :class:`~galcat.errors.NetworkError` (host unreachable after all
retries) stops the run at once: rerunning resumes from the disk cache.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from galcat.config import atomic_write_text
from galcat.images.result import FetchResult, FetchSummary
from galcat.progress import console


class RateColumn(ProgressColumn):
    """Rows per second (rich's own speed column assumes bytes)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "-.-/s", style="progress.data.speed")


def fetch_progress(disable: bool | None = None) -> Progress:
    """Count, rate, elapsed, ETA and running status counts; stderr, off when not a terminal."""
    if disable is None:
        disable = not (console.is_terminal or os.environ.get("GALCAT_PROGRESS") == "1")
        # rich allows one live display per console: an outer bar (e.g. the store builder's) wins
        disable = disable or bool(getattr(console, "_live_stack", None))
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
        disable=disable,
    )


class FetchRun:
    """Iterator of :class:`FetchResult` (completion order); ``.summary`` fills in as it runs."""

    def __init__(self, source, table, workers: int = 8, progress: bool | None = None, description: str = ""):
        self.source = source
        self.table = table
        self.workers = max(1, int(workers))
        self.summary = FetchSummary(source=repr(source))
        self._progress = fetch_progress(None if progress is None else not progress)
        self._description = description or f"fetch {getattr(source, 'name', 'images')}"
        self._results = self._run()

    def __iter__(self):
        return self

    def __next__(self) -> FetchResult:
        return next(self._results)

    def _run(self):
        n = len(self.table)
        start = time.monotonic()
        rows = iter(range(n))
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="galcat-fetch")
        pending: set[Future] = set()
        try:
            with self._progress as bar:
                task = bar.add_task(self._description, total=n, counts="")

                def fill():
                    for i in rows:
                        pending.add(pool.submit(self.source.fetch, i, self.table[i]))
                        if len(pending) >= 2 * self.workers:
                            break

                fill()
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        pending.discard(fut)
                        result = fut.result()  # NetworkError / bugs propagate and stop the run
                        self.summary.add(result)
                        self.summary.elapsed_s = time.monotonic() - start
                        bar.update(task, advance=1, counts=_counts_text(self.summary))
                        yield result
                    fill()
        except BaseException:
            # NetworkError, Ctrl-C, a closed generator: stop now, do not wait out retries in flight
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            self.summary.elapsed_s = time.monotonic() - start


def _counts_text(s: FetchSummary) -> str:
    return f"new {s.downloaded} cached {s.cached} blank {s.blank} failed {s.failed}"


def fetch_many(
    source, table, workers: int = 8, progress: bool | None = None, description: str = ""
) -> FetchRun:
    """Fetch ``source.fetch(i, table[i])`` for every row with ``workers`` threads.

    ``progress``: None shows a bar when stderr is a terminal (and no other bar is live).
    """
    return FetchRun(source, table, workers, progress, description)


def fetch_all(
    source, table, workers: int = 8, progress: bool | None = None
) -> tuple[list[FetchResult], FetchSummary]:
    """Every result in row order plus the summary (for small catalogues and tests)."""
    run = fetch_many(source, table, workers, progress)
    results = sorted(run, key=lambda r: r.row_index)
    return results, run.summary


def report_paths(store_path: str | os.PathLike) -> tuple[Path, Path]:
    """``NAME.fetch_summary.json`` and ``NAME.fetch_failures.ecsv`` beside ``NAME.h5``."""
    path = Path(store_path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + ".fetch_summary.json"), path.with_name(stem + ".fetch_failures.ecsv")


def write_fetch_report(summary: FetchSummary, store_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the counts (JSON) and the blank/failed rows (ECSV table) beside the store."""
    from astropy.table import Table

    json_path, table_path = report_paths(store_path)
    atomic_write_text(json_path, json.dumps(summary.counts(), indent=2) + "\n")
    rows: list[dict[str, Any]] = sorted(summary.failures, key=lambda r: r["row_index"])
    failures = Table(
        {
            "row_index": np.array([r["row_index"] for r in rows], dtype=np.int64),
            "objid": np.array([r["objid"] for r in rows], dtype=str),
            "status": np.array([r["status"] for r in rows], dtype=str),
            "origin": np.array([r["origin"] for r in rows], dtype=str),
            "error": np.array([r["error"] for r in rows], dtype=str),
        },
        meta={"source": summary.source, "description": "catalogue rows without a usable image"},
    )
    tmp = table_path.with_name("." + table_path.name + ".tmp")
    failures.write(tmp, format="ascii.ecsv", overwrite=True)
    os.replace(tmp, table_path)
    return json_path, table_path
