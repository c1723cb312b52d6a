"""Every CLI default is its config's default, and the configs refuse what the CLI refuses.

A command that builds a config is listed in COMMAND_SOURCES with the dataclasses (or API functions)
its options come from; a new command must be added here, and any option with a literal default
that is in none of them must be named in CLI_ONLY.
"""

from __future__ import annotations

import inspect

import pytest
import typer
from typer.models import OptionInfo

from galcat.catalogues import read_catalogue, write_catalogue
from galcat.catalogues.targets import read_targets
from galcat.cli import app
from galcat.cli.options import comma_list, option, radius_text, source_default
from galcat.coords.crossmatch import crossmatch_files, crossmatch_to_file
from galcat.demo import DemoConfig
from galcat.evaluate.api import EvaluateConfig
from galcat.experiments.audit import AuditConfig
from galcat.experiments.probe import ProbeConfig
from galcat.experiments.reproduce import ReproduceConfig
from galcat.explore.serve import SearchConfig
from galcat.explore.site import ExploreConfig
from galcat.images.factory import DEFAULT_SERVICE
from galcat.model.config import TrainConfig
from galcat.model.pretrain import PretrainConfig
from galcat.outputs.classify import ClassifyConfig
from galcat.outputs.embed import EmbedConfig
from galcat.outputs.neighbours import NeighboursConfig
from galcat.store.build import BuildConfig
from galcat.store.preprocess import PreprocessConfig
from galcat.synth.catalogue import SynthStoreConfig
from galcat.synth.noise import make_noisy_store

#: command path -> the sources of its options, first match wins
COMMAND_SOURCES = {
    "catalogue efigi": (read_catalogue, write_catalogue),
    "catalogue rsa": (read_catalogue, write_catalogue),
    "catalogue gz2": (read_catalogue, write_catalogue),
    "catalogue folder": (read_catalogue, write_catalogue),
    "catalogue targets": (read_targets, write_catalogue),
    "crossmatch": (crossmatch_files, crossmatch_to_file),
    "build": (BuildConfig, PreprocessConfig),
    "info": (),
    "synth store": (SynthStoreConfig,),
    "synth noise": (make_noisy_store,),
    "train": (TrainConfig,),
    "pretrain": (PretrainConfig,),
    "evaluate": (EvaluateConfig,),
    "embed": (EmbedConfig,),
    "classify": (ClassifyConfig,),
    "neighbours": (NeighboursConfig,),
    "audit": (AuditConfig,),
    "probe": (ProbeConfig,),
    "reproduce": (ReproduceConfig,),
    "demo": (DemoConfig,),
    "explore": (ExploreConfig, SearchConfig),
}
#: options whose name differs from their field
RENAMED = {("neighbours", "radius"): "radius_arcsec", ("explore", "map_method"): "map",
           ("pretrain", "store"): "stores", ("pretrain", "exclude_store"): "exclude_stores"}  # fmt: skip
#: options of the command line alone (no config field, or a field whose None means "not given"),
#: with their defaults (build's service: BuildConfig.service None records a local-archive build)
CLI_ONLY = {
    ("info", "verify"): False,
    ("info", "as_json"): False,
    ("evaluate", "raw"): False,
    ("build", "service"): DEFAULT_SERVICE,
    ("neighbours", "out"): "neighbours.png",
    ("explore", "serve"): False,  # NeighboursConfig.out None: a Python caller gets no file
}
#: how a list default reads on the command line
SHOWN = {("reproduce", name): comma_list for name in ("losses", "miners", "classes")}
SHOWN[("crossmatch", "radius")] = radius_text


def commands(typer_app: typer.Typer, prefix: str = ""):
    """(command path, callback) of every command, sub-groups included."""
    for info in typer_app.registered_commands:
        yield (prefix + (info.name or info.callback.__name__)).strip(), info.callback
    for group in typer_app.registered_groups:
        yield from commands(group.typer_instance, prefix + group.name + " ")


def options(callback):
    """(parameter name, default) of every option of a command."""
    for name, parameter in inspect.signature(callback).parameters.items():
        if isinstance(parameter.default, OptionInfo):
            yield name, parameter.default.default


def _field(sources, name):
    for source in sources:
        try:
            return source, source_default(source, name)
        except KeyError:
            continue
    return None, None


def test_every_command_has_its_sources():
    assert {path for path, _ in commands(app)} == set(COMMAND_SOURCES)


@pytest.mark.parametrize(("path", "callback"), list(commands(app)), ids=[p for p, _ in commands(app)])
def test_cli_defaults_are_the_config_defaults(path, callback):
    checked = 0
    for name, default in options(callback):
        field = RENAMED.get((path, name), name)
        if (path, name) in CLI_ONLY:
            assert str(default) == str(CLI_ONLY[(path, name)]), (path, name, default)
            continue
        source, expected = _field(COMMAND_SOURCES[path], field)
        if source is None:
            # no field of that name: the option must not invent a default of its own
            assert default in (None, ...), f"{path} --{name}: default {default!r} has no config field"
            continue
        if default is ...:  # the CLI requires what the config defaults: stricter, never different
            continue
        if expected is ...:  # a config argument without a default: the CLI's None is "not given"
            assert default is None, f"{path} --{name}: default {default!r} for a required field"
            continue
        shown = SHOWN.get((path, name))
        expected = shown(expected) if shown else expected
        assert str(default) == str(expected) and type(default) in (type(expected), str), (
            f"{path} --{name}: CLI default {default!r}, {source.__name__}.{field} {expected!r}"
        )
        checked += 1
    assert checked or not COMMAND_SOURCES[path]


def test_option_helper_reads_the_field_default():
    info = option(TrainConfig, "batch_size")
    assert info.default is None and info.param_decls == ("--batch-size",)
    assert option(EmbedConfig, "batch_size").default == EmbedConfig(model="m", store="s").batch_size
    assert option(ReproduceConfig, "miners", shown=comma_list).default == "pair,triplet"
    assert option(TrainConfig, "stage", choices=("a", "b")).metavar == "[a|b]"
    assert source_default(TrainConfig, "store") is ...
    with pytest.raises(KeyError):
        source_default(TrainConfig, "no_such_field")
