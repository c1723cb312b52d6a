"""CLI options whose defaults come from the config dataclasses, the one source of every default.

``option(EmbedConfig, "k", help=...)`` is ``typer.Option(<EmbedConfig.k's default>, "--k", help=...)``.
``choices`` only lists the allowed values in ``--help``: the config's own check refuses any other
value, so the CLI and a Python call report a bad value with the same line. A source may also be
an API function (its keyword default). tests/cli/test_options.py walks every command and fails
when a default differs from its source.
"""

from __future__ import annotations

import dataclasses
import inspect

import typer


def source_default(source, name: str):
    """The default of field ``name`` of a dataclass (``...`` when it has none), or of a function's keyword."""
    if dataclasses.is_dataclass(source):
        fields = {f.name: f for f in dataclasses.fields(source)}
        if name not in fields:
            raise KeyError(f"{source.__name__} has no field {name!r}")
        field = fields[name]
        if field.default is not dataclasses.MISSING:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
        return ...
    parameter = inspect.signature(source).parameters[name]
    return ... if parameter.default is inspect.Parameter.empty else parameter.default


def option_name(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def comma_list(values) -> str:
    """A list default as the comma list the option takes: ``["pair", "triplet"]`` -> ``pair,triplet``."""
    return ",".join(str(v) for v in values)


def radius_text(radius) -> str:
    """An angle default as the option writes it: ``5 * u.arcsec`` -> ``5arcsec``."""
    return f"{radius.value:g}{radius.unit}"


def calibrate_option(source):
    """``--calibrate/--no-calibrate`` of the commands that pool a run's folds (one help text)."""
    help = "Temperature-scale each fold (T fit on its validation rows)."
    return option(source, "calibrate", "--calibrate/--no-calibrate", help=help)


def option(source, name: str, *decls: str, choices=(), shown=None, **kwargs):
    """A ``typer.Option`` for field ``name`` of ``source`` (a config dataclass or an API function).

    ``decls``: the option names (default ``--field-name``; ``"--flag/--no-flag"`` for a boolean
    that defaults to on); ``choices``: the values shown as the metavar; ``shown``: how a default
    that is not a plain value reads on the command line (e.g. :func:`comma_list`).
    """
    default = source_default(source, name)
    if shown is not None and default is not ...:
        default = shown(default)
    decls = decls or (option_name(name),)
    if choices:
        listed = "[" + "|".join(str(c) for c in choices) + "]"
        if len(f"  {decls[0]} {listed}") <= 80:
            kwargs.setdefault("metavar", listed)
        else:  # too long for one line of an 80-column help: listed in the help text, wrapped at spaces
            kwargs["help"] = f"One of {', '.join(str(c) for c in choices)}. " + kwargs.get("help", "")
    return typer.Option(default, *decls, **kwargs)
