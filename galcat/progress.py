"""Rich progress bars and consoles shared by every long-running stage."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def progress_bar(disable: bool | None = None) -> Progress:
    """A progress bar with count, rate-friendly ETA and elapsed time, written to stderr.

    Disabled automatically when stderr is not a terminal and ``GALCAT_PROGRESS`` is not ``1``,
    so logs and CI output stay clean.
    """
    if disable is None:
        disable = not (sys.stderr.isatty() or os.environ.get("GALCAT_PROGRESS") == "1")
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        transient=False,
    )
