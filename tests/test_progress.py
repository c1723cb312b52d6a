"""The one progress-bar factory: readable in an 80-column terminal, silent when not a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import galcat.progress
from galcat.images.result import FetchResult, FetchSummary
from galcat.progress import progress_bar


@pytest.fixture
def console80(monkeypatch):
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(galcat.progress, "console", console)
    return console


def render(console, bar) -> list[str]:
    console.print(bar.make_tasks_table(bar.tasks))
    return console.file.getvalue().splitlines()


def test_fetch_bar_shows_count_eta_and_status_untruncated_in_80_columns(console80):
    summary = FetchSummary()
    for i, status in enumerate(["ok"] * 280 + ["cached"] * 15 + ["blank"] * 3 + ["failed"] * 2):
        summary.add(FetchResult(str(i), i, status))
    bar = progress_bar(disable=False, status=True)
    task = bar.add_task("build gz1_64.h5", total=1000, status=summary.status_text())
    bar.update(task, completed=300)
    (line,) = render(console80, bar)
    assert len(line) <= 80 and "…" not in line, line
    assert "build gz1_64.h5" in line and "300/1000" in line and "-.-/s" in line and "-:--:--" in line
    assert line.endswith("new 280 cached 15 blank 3 failed 2")


def test_training_bar_keeps_the_loss_visible_in_80_columns(console80):
    bar = progress_bar(disable=False, status=True)
    task = bar.add_task("fold 0 epoch 3/6", total=120, status="")
    bar.update(task, completed=45, status="loss 1.2345")
    (line,) = render(console80, bar)
    assert len(line) <= 80 and "fold 0 epoch 3/6" in line and "45/120" in line and "loss 1.2345" in line


def test_bar_is_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(galcat.progress, "console", Console(file=io.StringIO(), force_terminal=False))
    monkeypatch.delenv("GALCAT_PROGRESS", raising=False)
    assert progress_bar().disable
    monkeypatch.setenv("GALCAT_PROGRESS", "1")
    assert not progress_bar().disable


def test_an_inner_bar_stays_off_while_an_outer_one_is_live(console80):
    with progress_bar():
        assert progress_bar().disable
    assert not progress_bar().disable
