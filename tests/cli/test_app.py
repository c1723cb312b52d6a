"""galcat.cli.app: the error policy (one line, exit codes), the sections of --help, the help wrapper."""

from __future__ import annotations

import errno

import typer
from helpers.cli import invoke, one_line_error
from typer.testing import CliRunner

from galcat.cli.app import SECTIONS, OneLineErrors, command_group, environment_error, handle_errors
from galcat.errors import GalcatError


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(cls=OneLineErrors, rich_markup_mode=None)

    @app.command()
    @handle_errors
    def boom(n: int = typer.Option(1, "--n")):
        raise exc

    @app.command()
    def other():
        pass

    return app


def test_galcat_error_is_one_line_and_exit_2():
    result = CliRunner().invoke(_app(GalcatError("x.fits: row 3: bad\nsecond line")), ["boom"])
    assert one_line_error(result) == "galcat: error: x.fits: row 3: bad second line"


def test_environment_errors_are_one_line_others_are_not_hidden():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/s.h5")
    assert environment_error(full) == "/data/s.h5: no space left on the device"
    assert environment_error(OSError(errno.ECONNRESET, "Connection reset")) is None
    result = CliRunner().invoke(_app(full), ["boom"])
    assert one_line_error(result) == "galcat: error: /data/s.h5: no space left on the device"
    result = CliRunner().invoke(_app(OSError(errno.ECONNRESET, "Connection reset")), ["boom"])
    assert isinstance(result.exception, OSError) and result.exit_code != 2  # a bug is not hidden


def test_interrupt_says_how_to_resume():
    result = CliRunner().invoke(_app(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == 130 and "rerun the same command to resume" in result.stderr


def test_usage_errors_are_one_line():
    result = invoke("train", "--no-such-option")
    assert one_line_error(result, "train", "--no-such-option").startswith("galcat: error: galcat train: ")
    result = invoke("build", "folder", "--size", "big")
    one_line_error(result, "--size", "integer")


def test_sections_hold_each_command_once_and_groups_share_the_plain_help():
    names = [name for names in SECTIONS.values() for name in names]
    assert len(names) == len(set(names))
    group = command_group("A group.")
    assert group.info.help == "A group." and group.info.no_args_is_help
    assert group.rich_markup_mode is None


def test_help_wraps_at_spaces_only():
    from typer._click.formatting import wrap_text

    text = wrap_text("use --val-fraction with --folds 1 and proxy-anchor " * 3, width=30)
    assert "--val-\n" not in text and "proxy-\n" not in text
