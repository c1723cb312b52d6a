"""Every command answers --help with an example, and the root command reports its version.

At 80 columns the help reads as a terminal shows it: flags without a value placeholder, choice
lists whole, examples that paste as one command, commands in workflow order.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from galcat import __version__
from galcat.cli import app
from galcat.cli.app import SECTIONS


def _all_commands(command=None, path=()) -> list[list[str]]:
    """Every command and group below the root, as the words a user types (new commands included)."""
    command = command or typer.main.get_command(app)
    found = [list(path)] if path else []
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            found += _all_commands(sub, (*path, name))
    return found


COMMANDS = _all_commands()


def _help(*command: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def _parse(args: list[str]) -> None:
    """Parse ``galcat ARGS`` down to its command: every option must exist and every value convert."""
    command, rest = typer.main.get_command(app), list(args[1:])
    while hasattr(command, "commands"):
        command = command.commands[rest.pop(0)]
    command.make_context(" ".join(args[:2]), rest)


def _examples(text: str) -> list[str]:
    """Each ``Example:`` of a help text, its ``\\``-continued lines joined."""
    examples, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Example: "):
            current = stripped.removeprefix("Example: ")
        elif current is not None:
            current += " " + stripped
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            examples.append(current)
            current = None
    return examples


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_example(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "Example: galcat " + command[0] in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_reads_at_80_columns(command):
    text = _help(*command)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "<bool>" not in text and "…" not in text
    examples = _examples(text)
    assert examples, text
    for example in examples:
        args = shlex.split(example)
        assert args[: 1 + len(command)] == ["galcat", *command], example
        _parse(args)  # the example pastes as one whole command


def test_flags_and_choices_in_help():
    text = _help("train")
    assert "--flips / --no-flips" in text and "--compile / --no-compile" in text
    assert "[contrastive|triplet|proxy-nca|proxy-anchor|normalized-softmax]" in text
    assert "[resnet18|resnet34|resnet50]" in text
    assert "--val-\n" not in text  # help text wraps at spaces, never at an option's hyphen


def test_commands_listed_in_workflow_order():
    text = _help()
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.split()]
    registered = {info.name for info in app.registered_commands} | {g.name for g in app.registered_groups}
    ordered = [name for names in SECTIONS.values() for name in names if name in registered]
    assert registered <= set(ordered), f"add {registered - set(ordered)} to galcat.cli.app.SECTIONS"
    assert [name for name in listed if name in registered] == ordered
    assert "Other commands" not in text
    workflow = ["catalogue", "crossmatch", "build", "info", "train", "evaluate", "embed", "classify"]
    assert [ordered.index(name) for name in workflow] == sorted(ordered.index(name) for name in workflow)


def test_log_lines_not_wrapped_when_not_a_terminal():
    code = "from galcat.progress import console; console.print('epoch ' + 'x' * 150)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"COLUMNS": "80"} | _env()
    )
    assert done.stderr.splitlines() == ["epoch " + "x" * 150]


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"galcat {__version__}"
