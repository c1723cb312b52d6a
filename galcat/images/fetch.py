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

from galcat.atomic import atomic_write
from galcat.images.result import FetchResult, FetchSummary, failures_path, write_failures
from galcat.progress import progress_bar


class FetchRun:
    """Iterator of :class:`FetchResult` (completion order); ``.summary`` fills in as it runs."""

    def __init__(self, source, table, workers: int = 8, progress: bool | None = None, description: str = ""):
        self.source = source
        self.table = table
        self.workers = max(1, int(workers))
        self.summary = FetchSummary(source=repr(source))
        self._progress = progress_bar(None if progress is None else not progress, status=True)
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
                task = bar.add_task(self._description, total=n, status="")

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
                        bar.update(task, advance=1, status=self.summary.status_text())
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
    """``NAME.fetch_summary.json`` and ``NAME.failures.ecsv`` beside ``NAME.h5``."""
    path = Path(store_path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + ".fetch_summary.json"), failures_path(path)


def write_fetch_report(summary: FetchSummary, store_path: str | os.PathLike) -> tuple[Path, Path | None]:
    """Write the counts (JSON) and the blank/failed rows (ECSV table, None when there are none)."""
    json_path, table_path = report_paths(store_path)
    atomic_write(json_path, json.dumps(summary.counts(), indent=2) + "\n")
    meta = {"source": summary.source, "description": "catalogue rows without a usable image"}
    return json_path, write_failures(table_path, summary.failures, meta)
