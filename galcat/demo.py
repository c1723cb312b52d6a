"""``galcat demo``: the whole pipeline offline, on synthetic galaxies, on a CPU.

Why: a new user (or CI) can see every stage work end to end without network or real data:
render a labelled synthetic "training catalogue" and a separate "unseen catalogue" into HDF5
stores, train a small ResNet with label-smoothing cross-entropy, refine its embedding with deep
metric learning (ProxyNCA + pair mining, initialised from the first stage, as the paper does),
evaluate both on the unseen store (accuracy, macro F1, precision@1, MAP@R, confusion, ROC) and
write the unseen catalogue back with embedding, prediction and kNN columns (FITS, opens in TOPCAT),
and write its explorer (``explore/index.html``: the galaxies, predictions and neighbours in a browser).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from galcat.atomic import atomic_write
from galcat.config import save_config
from galcat.errors import GalcatError
from galcat.progress import console
from galcat.schemes import HUBBLE9


@dataclass
class DemoConfig:
    """Sizes chosen so the demo is a short CPU run (its time: docs/benchmarks.md)."""

    out: str = "demo"
    classes: list[str] = field(default_factory=lambda: list(HUBBLE9))
    n_train_per_class: int = 60
    n_query_per_class: int = 20
    image_size: int = 48
    arch: str = "resnet18"
    ce_epochs: int = 4
    dml_epochs: int = 2
    batch_size: int = 64
    seed: int = 0
    overwrite: bool = False
    device: str = "auto"


def _stage(title: str) -> float:
    console.print(f"[bold cyan]>>[/] {title}")
    return time.perf_counter()


def run_demo(cfg: DemoConfig) -> dict:
    """Run the demo and return a summary dict (also written to ``<out>/summary.json``)."""
    from galcat.evaluate import EvaluateConfig, evaluate
    from galcat.model import TrainConfig, train
    from galcat.outputs.embed import EmbedConfig, embed_catalogue
    from galcat.paths import check_writable
    from galcat.ranges import bound, check_numbers
    from galcat.synth import make_synthetic_store

    check_numbers(
        cfg,
        {
            "n_train_per_class": bound("per_class", low=2),  # a fold split needs two per class
            "n_query_per_class": bound("per_class"),
            "image_size": bound("image_side", low=16),
            "ce_epochs": bound("epochs"),
            "dml_epochs": bound("epochs"),
            "batch_size": bound("batch_size", low=2),
            "seed": bound("seed"),
        },
    )
    check_writable(cfg.out, kind="folder")
    out = Path(cfg.out)
    if (out / "summary.json").exists() and not cfg.overwrite:
        raise GalcatError(f"{out}: a finished demo is already there; pass --overwrite or another --out")
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "demo_config.json")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    t = _stage("render synthetic catalogues into HDF5 stores")
    train_store = out / "stores" / "synthetic_train.h5"
    query_store = out / "stores" / "synthetic_unseen.h5"
    for path, n, seed in (
        (train_store, cfg.n_train_per_class, cfg.seed),
        (query_store, cfg.n_query_per_class, cfg.seed + 1000),
    ):
        make_synthetic_store(
            path, cfg.classes, n_per_class=n, size=cfg.image_size, seed=seed, overwrite=True, votes=False
        )  # a Hubble-class demo: no GZ2 vote columns
    timings["stores_s"] = time.perf_counter() - t

    common = dict(
        store=str(train_store), scheme="hubble9", arch=cfg.arch, folds=1, val_fraction=0.25,
        batch_size=cfg.batch_size, seed=cfg.seed, device=cfg.device, image_size=cfg.image_size,
    )  # fmt: skip
    t = _stage("train stage 1: label-smoothing cross-entropy (the paper's eq. 1-2, eps=0.1)")
    lsce_run = out / "runs" / "ls-ce"
    train(TrainConfig(stage="ls-ce", out=str(lsce_run), epochs=cfg.ce_epochs, **common))
    timings["train_ls_ce_s"] = time.perf_counter() - t

    t = _stage("train stage 2: deep metric learning (ProxyNCA + pair miner), initialised from stage 1")
    dml_run = out / "runs" / "dml-proxy-nca"
    train(
        TrainConfig(
            stage="dml", loss="proxy-nca", miner="pair", init=str(lsce_run), out=str(dml_run),
            epochs=cfg.dml_epochs, **common,
        )
    )  # fmt: skip
    timings["train_dml_s"] = time.perf_counter() - t

    t = _stage("evaluate both models on the unseen synthetic catalogue")
    reports = {}
    for name, run in (("ls-ce", lsce_run), ("dml-proxy-nca", dml_run)):
        metrics = evaluate(
            EvaluateConfig(
                model=str(run), query=str(query_store), reference=str(train_store),
                out=str(out / "reports" / name), bootstrap=200,
            )
        )  # fmt: skip
        reports[name] = _headline(metrics)
    timings["evaluate_s"] = time.perf_counter() - t

    t = _stage("write the unseen catalogue back with embedding, prediction and kNN columns")
    catalogue = out / "synthetic_unseen_embedded.fits"
    table = embed_catalogue(
        EmbedConfig(
            model=str(dml_run), store=str(query_store), reference=str(train_store), out=str(catalogue),
            overwrite=True,
        )
    )  # fmt: skip
    timings["embed_s"] = time.perf_counter() - t

    t = _stage("write the explorer: the unseen galaxies, predictions and neighbours in a browser")
    from galcat.explore.site import ExploreConfig, write_site

    site = write_site(
        ExploreConfig(
            catalogue=str(catalogue), store=str(query_store), reference=str(train_store),
            report=str(out / "reports" / "dml-proxy-nca"), out=str(out / "explore"), overwrite=True,
            title="galcat demo: unseen synthetic galaxies",
        )
    )  # fmt: skip
    timings["explore_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start

    summary = {
        "stores": {"train": str(train_store), "unseen": str(query_store)},
        "runs": {"ls-ce": str(lsce_run), "dml-proxy-nca": str(dml_run)},
        "metrics_on_unseen": reports,
        "catalogue": str(catalogue),
        "explorer": str(site.index),
        "catalogue_columns": list(table.colnames),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _headline(metrics: dict) -> dict:
    """The four numbers of the paper's Tables 3-4 from an evaluate() result (mean over folds)."""
    summary = metrics.get("summary", metrics)
    keys = ("accuracy", "macro_f1", "precision_at_1", "map_at_r", "map_at_10_v0997")
    found = {}
    for key in keys:
        value = summary.get(key)
        if isinstance(value, dict):
            value = value.get("mean")
        if value is not None:
            found[key] = round(float(value), 4)
    return found
