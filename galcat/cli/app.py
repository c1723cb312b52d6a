"""The typer application object and the error policy shared by every command."""

from __future__ import annotations

import errno
import functools
import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 carries its own copy of click; its usage errors derive from TyperException
    from typer.exceptions import TyperException as _UsageErrorBase
except ImportError:  # pragma: no cover - older typer raises click's own exceptions
    from click import ClickException as _UsageErrorBase

from galcat.errors import GalcatError

try:  # typer >= 0.20 formats help with its own copy of click
    from typer._click import _textwrap as _help_textwrap
except ImportError:  # pragma: no cover
    from click import _textwrap as _help_textwrap


class _HelpWrapper(_help_textwrap.TextWrapper):
    """Help text wraps at spaces only: '--val-fraction' or 'proxy-anchor' is never split at a hyphen."""

    def __init__(self, *args, **kwargs):
        kwargs["break_on_hyphens"] = False
        super().__init__(*args, **kwargs)


_help_textwrap.TextWrapper = _HelpWrapper  # read by the help formatter's wrap_text at each call

#: the commands in workflow order, by section of ``galcat --help``; a new command joins its section
#: here (tests/cli/test_help.py fails for a command that is in none)
SECTIONS: dict[str, tuple[str, ...]] = {
    "Start here": ("demo",),
    "Catalogues and stores": ("catalogue", "crossmatch", "build", "info", "synth"),
    "Models": ("train", "pretrain", "evaluate"),
    "Catalogue columns": ("embed", "classify", "neighbours", "explore"),
    "Experiments": ("audit", "probe", "reproduce"),
}

#: OS errors the user fixes (space, permissions, read-only mounts), reported as one line like a GalcatError
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system or limit",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "not a directory",
    errno.EISDIR: "is a directory",
}


class OneLineErrors(TyperGroup):
    """Usage errors (bad option values, unknown options) as one line on stderr and exit code 2.

    Click's own report is a usage block plus a boxed message; galcat's rule is one line for every
    error the user can fix, whether the parser or the API found it.
    """

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            print("galcat: aborted", file=sys.stderr)
            sys.exit(1)
        except _UsageErrorBase as exc:
            if not hasattr(exc, "format_message"):
                raise
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                print(ctx.get_help(), file=sys.stderr)
                sys.exit(2)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            print(f"galcat: error: {where}{' '.join(exc.format_message().split())}", file=sys.stderr)
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx) -> list[str]:
        """Workflow order (:data:`SECTIONS`), then any command not placed there."""
        known = [name for names in SECTIONS.values() for name in names]
        present = super().list_commands(ctx)
        return [n for n in known if n in present] + [n for n in present if n not in known]

    def format_commands(self, ctx, formatter) -> None:
        """One block per section of :data:`SECTIONS`, each command with its whole first line."""
        sections = {**SECTIONS, "Other commands": tuple(self.list_commands(ctx))}
        shown: set[str] = set()
        for title, names in sections.items():
            rows = []
            for name in names:
                command = self.get_command(ctx, name)
                if command is None or command.hidden or name in shown:
                    continue
                shown.add(name)
                rows.append((name, command.get_short_help_str(limit=200)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def command_group(help: str) -> typer.Typer:
    """A sub-command group (``galcat catalogue``, ``galcat synth``) with the root's plain help."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def environment_error(exc: OSError) -> str | None:
    """One line for an OSError the user can fix (naming the file), or None for anything else."""
    reason = _ENVIRONMENT_ERRNOS.get(getattr(exc, "errno", None))
    if reason is None:
        return None
    path = exc.filename if exc.filename is not None else None
    return f"{path}: {reason}" if path is not None else f"{reason} ({str(exc).splitlines()[0]})"


app = typer.Typer(
    name="galcat",
    cls=OneLineErrors,
    help="galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def handle_errors(func):
    """Turn a :class:`GalcatError` into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GalcatError as exc:
            print(f"galcat: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        except OSError as exc:
            line = environment_error(exc)
            if line is None:
                raise
            print(f"galcat: error: {line}", file=sys.stderr)
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
    threads: str = typer.Option(
        "auto",
        "--threads",
        envvar="GALCAT_THREADS",
        help="Compute threads (before the command: galcat --threads 2 train ...): a number, or 'auto' "
        "= the CPUs this process may use (affinity, cgroup quota) shared between the galcat jobs "
        "running; see docs/shared-machines.md.",
    ),
):
    """galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns."""
    from galcat import threads as compute_threads

    try:
        compute_threads.request(threads)
    except GalcatError as exc:
        print(f"galcat: error: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None


def predict_turns_option():
    """``--predict-turns`` of the commands that run a trained model (one definition, one help)."""
    return typer.Option(
        None,
        "--predict-turns",
        help="Average each prediction over the image's 4 90-degree turns (4) or use one view (1, "
        "one forward pass instead of four); default: as the run was trained.",
    )
