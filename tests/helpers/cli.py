"""Run the galcat CLI in-process, as a user would type it."""

from __future__ import annotations


def invoke(*args):
    """Run the galcat CLI in-process with every argument stringified (typer's CliRunner)."""
    from typer.testing import CliRunner

    from galcat.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str) -> str:
    """Assert galcat's error rule (exit code 2, one line on stderr naming ``needles``); return the line."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("galcat: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
