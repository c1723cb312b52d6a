"""The one progress-bar factory and console shared by every long-running stage.

Bars go to stderr and switch themselves off when stderr is not a terminal (unless
``GALCAT_PROGRESS=1``), so logs and CI output stay clean. The columns are sized to fit an
80-column terminal: a bounded description, a short bar, ``done/total``, the rate, the ETA (the
elapsed time once finished) and an optional short status text.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

console = Console(stderr=True)
# in a log file (stderr not a terminal) a line stays one line, however long, instead of rich's 80 columns
console.soft_wrap = not console.is_terminal


class RateColumn(ProgressColumn):
    """Items per second (rich's own speed column assumes bytes)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "-.-/s", style="progress.data.speed")


def progress_bar(disable: bool | None = None, status: bool = False) -> Progress:
    """A progress bar on :data:`console`; ``status=True`` adds a column showing ``task.fields['status']``.

    ``disable=None`` shows the bar when stderr is a terminal (or ``GALCAT_PROGRESS=1``) and no
    other bar is live on the console (rich allows one live display per console: an outer bar,
    such as the store builder's, wins).
    """
    if disable is None:
        disable = not (console.is_terminal or os.environ.get("GALCAT_PROGRESS") == "1")
        disable = disable or bool(getattr(console, "_live_stack", None))
    columns: list = [
        TextColumn(
            "[bold]{task.description}",
            table_column=Column(max_width=20, no_wrap=True, overflow="ellipsis"),
        ),
        BarColumn(bar_width=None),
        MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=3)),
        RateColumn(table_column=Column(no_wrap=True, min_width=5)),
        TimeRemainingColumn(elapsed_when_finished=True, table_column=Column(no_wrap=True, min_width=5)),
    ]
    if status:
        status_column = Column(max_width=34, no_wrap=True, overflow="ellipsis")
        columns.append(TextColumn("{task.fields[status]}", table_column=status_column))
    return Progress(*columns, console=console, disable=disable)
