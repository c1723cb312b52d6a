"""Run the galcat CLI in-process, as a user would type it."""

from __future__ import annotations


def invoke(*args):
    """Run the galcat CLI in-process with every argument stringified (typer's CliRunner)."""
    from typer.testing import CliRunner

    from galcat.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])
