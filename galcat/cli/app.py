"""The typer application object and the error policy shared by every command."""

from __future__ import annotations

import functools
import sys

import typer

from galcat.errors import GalcatError

app = typer.Typer(
    name="galcat",
    help="galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def handle_errors(func):
    """Turn a :class:`GalcatError` into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GalcatError as exc:
            print(f"galcat: error: {exc}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            print("galcat: interrupted; rerun the same command to resume", file=sys.stderr)
            raise typer.Exit(code=130) from None

    return wrapper


def version_callback(value: bool):
    if value:
        from galcat import __version__

        print(f"galcat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Print the version and exit."
    ),
):
    """galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns."""
