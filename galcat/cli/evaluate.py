"""`galcat evaluate` commands (to be filled)."""

from galcat.cli.app import app, handle_errors  # noqa: F401
