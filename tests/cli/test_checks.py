"""The Python API and the CLI refuse the same bad values with the same one line.

Each case gives the command line and the Python call that build the same config; the check lives
in the config's API (``check_*_config`` or the function itself), not in the option parser.
"""

from __future__ import annotations

import pytest
from helpers.cli import invoke, one_line_error

from galcat.errors import GalcatError


@pytest.fixture
def files(tmp_path):
    """Paths that exist (a run folder, a store-like file, a target list) so only the value is wrong."""
    run = tmp_path / "run"
    run.mkdir()
    store = tmp_path / "s.h5"
    store.write_bytes(b"")
    targets = tmp_path / "t.csv"
    targets.write_text("name\nM 51\n")
    return {"run": run, "store": store, "targets": targets, "tmp": tmp_path}


def _train(f, **kw):
    from galcat.model import TrainConfig, train

    return train(TrainConfig(store=str(f["store"]), out=str(f["tmp"] / "r"), **kw))


def _build(f, **kw):
    from galcat.store.api import build_from_config
    from galcat.store.build import BuildConfig
    from galcat.store.preprocess import PreprocessConfig

    return build_from_config(
        BuildConfig(name="folder", catalogue=str(f["targets"]), preprocess=PreprocessConfig(**kw)),
        f["tmp"] / "b.h5",
    )


def _synth(f, **kw):
    from galcat.synth.catalogue import SynthStoreConfig, synth_store

    return synth_store(SynthStoreConfig(out=str(f["tmp"] / "x.h5"), **kw))


def _noise(f, **kw):
    from galcat.synth.noise import make_noisy_store

    return make_noisy_store(f["store"], f["tmp"] / "n.h5", **kw)


def _crossmatch(f, **kw):
    from galcat.coords.crossmatch import crossmatch_to_file

    return crossmatch_to_file(f["targets"], f["targets"], f["tmp"] / "m.fits", **kw)


def _audit(f, **kw):
    from galcat.experiments.audit import AuditConfig, audit

    return audit(AuditConfig(a=str(f["targets"]), b=str(f["targets"]), out=str(f["tmp"] / "a"), **kw))


def _probe(f, **kw):
    from galcat.experiments.probe import ProbeConfig, probe

    return probe(ProbeConfig(model=str(f["run"]), store=str(f["store"]), test=str(f["store"]), **kw))


def _reproduce(f, **kw):
    from galcat.experiments.reproduce import ReproduceConfig, reproduce

    return reproduce(ReproduceConfig(train={"a": str(f["store"])}, test={"b": str(f["store"])}, **kw))


def _embed(f, **kw):
    from galcat.outputs.embed import EmbedConfig, embed_catalogue

    return embed_catalogue(
        EmbedConfig(model=str(f["run"]), store=str(f["store"]), out=str(f["tmp"] / "e.fits"), **kw)
    )


def _neighbours(f, **kw):
    from galcat.outputs.neighbours import NeighboursConfig, find_neighbours

    return find_neighbours(NeighboursConfig(model=str(f["run"]), index=str(f["store"]), query="x", **kw))


def _evaluate(f, **kw):
    from galcat.evaluate.api import EvaluateConfig, evaluate

    return evaluate(
        EvaluateConfig(model=str(f["run"]), query=str(f["store"]), out=str(f["tmp"] / "ev"), **kw)
    )


def _classify(f, **kw):
    from galcat.outputs.classify import ClassifyConfig, classify_targets

    cfg = ClassifyConfig(model=str(f["run"]), targets=str(f["targets"]), out=str(f["tmp"] / "c.fits"), **kw)
    return classify_targets(cfg)


def _demo(f, **kw):
    from galcat.demo import DemoConfig, run_demo

    return run_demo(DemoConfig(out=str(f["tmp"] / "demo"), **kw))


#: (python call, its keyword, the command line with the same bad value)
CASES = [
    (_train, {"batch_size": 0}, "train --store {store} --out {tmp}/r --batch-size 0"),
    (_train, {"val_fraction": float("nan")}, "train --store {store} --out {tmp}/r --val-fraction nan"),
    (_train, {"lr": float("inf")}, "train --store {store} --out {tmp}/r --lr inf"),
    (_train, {"stage": "cnn"}, "train --store {store} --out {tmp}/r --stage cnn"),
    (_build, {"size": 100000}, "build folder --catalogue {targets} --out {tmp}/b.h5 --size 100000"),
    (_synth, {"size": 100000}, "synth store --out {tmp}/x.h5 --size 100000"),
    (_synth, {"n_per_class": 0}, "synth store --out {tmp}/x.h5 --n-per-class 0"),
    (_noise, {"rate": float("nan")}, "synth noise {store} --rate nan --out {tmp}/n.h5"),
    (
        _crossmatch,
        {"radius": "nanarcsec"},
        "crossmatch {targets} {targets} --radius nanarcsec --out {tmp}/m.fits",
    ),
    (_crossmatch, {"radius": "infdeg"}, "crossmatch {targets} {targets} --radius infdeg --out {tmp}/m.fits"),
    (_audit, {"radius": "nanarcsec"}, "audit {targets} {targets} --radius nanarcsec --out {tmp}/a"),
    (_audit, {"bootstrap": -1}, "audit {targets} {targets} --bootstrap -1 --out {tmp}/a"),
    (_probe, {"epochs": 0}, "probe --model {run} --store {store} --test {store} --epochs 0"),
    (_probe, {"fold": -1}, "probe --model {run} --store {store} --test {store} --fold -1"),
    (_reproduce, {"batch_size": 1}, "reproduce --train a={store} --test b={store} --batch-size 1"),
    (_reproduce, {"folds": 0}, "reproduce --train a={store} --test b={store} --folds 0"),
    (_embed, {"k": 0}, "embed --model {run} --store {store} --out {tmp}/e.fits --k 0"),
    (
        _neighbours,
        {"radius_arcsec": float("nan")},
        "neighbours --model {run} --index {store} --query x --radius nan",
    ),
    (_evaluate, {"bootstrap": -1}, "evaluate --model {run} --query {store} --out {tmp}/ev --bootstrap -1"),
    (_classify, {"workers": 0}, "classify --model {run} --targets {targets} --out {tmp}/c.fits --workers 0"),
    (
        _classify,
        {"scale": float("nan")},
        "classify --model {run} --targets {targets} --out {tmp}/c.fits --scale nan",
    ),
    (_demo, {"image_size": 100000}, "demo --out {tmp}/demo --image-size 100000"),
]


@pytest.mark.parametrize(
    ("call", "kwargs", "command"), CASES, ids=[c[2].split(" --")[0] + str(c[1]) for c in CASES]
)
def test_python_and_cli_refuse_alike(files, call, kwargs, command):
    with pytest.raises(GalcatError) as refused:
        call(files, **kwargs)
    message = " ".join(str(refused.value).split())
    line = one_line_error(invoke(*command.format(**files).split()))
    assert line == f"galcat: error: {message}"
    assert "Traceback" not in line
