"""The ``galcat`` command line: a thin layer over the Python API.

Each command group lives in its own module and registers itself on :data:`app` when imported.
"""

from __future__ import annotations

import importlib

from galcat.cli.app import app

_COMMAND_MODULES = (
    "catalogue",
    "crossmatch",
    "build",
    "train",
    "pretrain",
    "demo",
    "evaluate",
    "embed",
    "explore",
    "classify",
    "synth",
    "audit",
    "probe",
    "reproduce",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"galcat.cli.{_name}")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
