"""Every command answers --help with an example, and the root command reports its version."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from galcat import __version__
from galcat.cli import app

COMMANDS = [
    ["catalogue", "efigi"],
    ["catalogue", "rsa"],
    ["catalogue", "gz2"],
    ["catalogue", "folder"],
    ["crossmatch"],
    ["build"],
    ["info"],
    ["train"],
    ["evaluate"],
    ["embed"],
    ["neighbours"],
    ["demo"],
    ["explore"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_example(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "Example: galcat " + command[0] in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"galcat {__version__}"
