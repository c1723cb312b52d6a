"""``reproduce(ReproduceConfig)``: the paper's experiment grid as one resumable command.

For each training catalogue and class count: LS-CE (optionally from ``--init``, e.g. a votes
run), then DML for every loss x miner initialised from that LS-CE run, k folds each; every cell
is evaluated on the test catalogue (``galcat evaluate``: 11 -> 9 collapse where a 9-class model
meets 11-class labels), a frozen-trunk probe is added per trunk, and catalogues sharing galaxies
are audited. Every cell is a run directory under ``<out>/cells``; a finished cell (``cell.json``)
is skipped and an interrupted one resumes from its ``last.pt``, so rerunning the command is the
way to continue. Results: ``results.ecsv`` and ``tables.md`` (``galcat.experiments.paper``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from galcat.atomic import atomic_write
from galcat.config import json_default, save_config
from galcat.errors import GalcatError
from galcat.model.config import LOSSES
from galcat.progress import console

SCHEME_FOR = {9: "hubble9", 11: "hubble11"}
#: --quick: the CPU budget (one fold, resnet18, a few epochs, small images, short bootstraps).
QUICK = {
    "folds": 1,
    "arch": "resnet18",
    "lsce_epochs": 3,
    "dml_epochs": 1,
    "image_size": 32,
    "bootstrap": 100,
}


@dataclass
class ReproduceConfig:
    """Everything that defines one reproduction (``galcat reproduce``)."""

    train: dict[str, str]  # catalogue name -> store (e.g. {"efigi": "stores/efigi.h5"})
    test: dict[str, str]  # one catalogue name -> store (e.g. {"rsa": "stores/rsa.h5"})
    out: str = "reports/paper"
    init: str | None = None  # run that initialises every LS-CE (e.g. a GZ2 votes run)
    losses: list[str] = field(default_factory=lambda: list(LOSSES))
    miners: list[str] = field(default_factory=lambda: ["pair", "triplet"])
    classes: list[int] = field(default_factory=lambda: [9, 11])
    folds: int | None = None  # None: 5, or 1 with --quick
    quick: bool = False
    arch: str | None = None
    image_size: int | None = None
    lsce_epochs: int | None = None
    dml_epochs: int | None = None
    batch_size: int | None = None
    max_steps: int | None = None
    bootstrap: int | None = None
    probe: bool = True
    audit: bool = True
    device: str = "auto"
    seed: int = 0

    def resolved(self) -> ReproduceConfig:
        """``--quick`` fills the fields left unset; explicit options always win."""
        values = {k: v for k, v in QUICK.items() if getattr(self, k) is None} if self.quick else {}
        if self.folds is None and "folds" not in values:
            values["folds"] = 5
        if self.bootstrap is None and "bootstrap" not in values:
            values["bootstrap"] = 1000
        return dataclasses.replace(self, **values)


#: a catalogue name becomes a folder name (cells/NAME-9, audits/A-vs-B): one path component, no more
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def check_reproduce_config(cfg: ReproduceConfig) -> ReproduceConfig:
    """GalcatError naming the option for a bad name, store, choice or number; returns ``cfg``."""
    from galcat.model.config import ARCHS, MINERS
    from galcat.paths import check_writable
    from galcat.ranges import bound, check_numbers

    check_writable(cfg.out, kind="folder")
    for option, names in (("--train", cfg.train), ("--test", cfg.test)):
        for name in names:
            if not NAME_PATTERN.fullmatch(name) or ".." in name:
                raise GalcatError(
                    f"{option} {name}=...: a catalogue NAME names folders under --out, so it must be "
                    "letters, digits, '.', '_', '+' or '-' (no '/', no '..'), e.g. efigi=stores/efigi.h5"
                )
    check_numbers(
        cfg,
        {
            "folds": {"low": 1, "high": 100, "integer": True, "allow_none": True},
            "image_size": bound("image_side", low=8, allow_none=True),
            "lsce_epochs": bound("epochs", allow_none=True),
            "dml_epochs": bound("epochs", allow_none=True),
            "batch_size": bound("batch_size", low=2, allow_none=True),
            "max_steps": {"low": 1, "integer": True, "allow_none": True},
            "bootstrap": bound("bootstrap", allow_none=True),
            "seed": bound("seed"),
        },
    )
    if cfg.arch is not None and cfg.arch not in ARCHS:
        raise GalcatError(f"--arch {cfg.arch!r} is not one of {', '.join(ARCHS)}")
    if not cfg.train:
        raise GalcatError("--train: give at least one training catalogue as NAME=STORE")
    if len(cfg.test) != 1:
        raise GalcatError(f"--test: give exactly one test catalogue as NAME=STORE, got {len(cfg.test)}")
    for name, path in {**cfg.train, **cfg.test}.items():
        if not Path(path).is_file():
            raise GalcatError(f"{path}: store for catalogue {name!r} not found")
    if set(cfg.train) & set(cfg.test):
        raise GalcatError(f"catalogue name {sorted(set(cfg.train) & set(cfg.test))[0]!r} is used twice")
    for value, allowed, option in ((cfg.losses, LOSSES, "--losses"), (cfg.miners, MINERS, "--miners")):
        bad = [v for v in value if v not in allowed]
        if bad or not value:
            raise GalcatError(f"{option} {','.join(bad) or '(empty)'}: choose from {', '.join(allowed)}")
    bad = [c for c in cfg.classes if c not in SCHEME_FOR]
    if bad or not cfg.classes:
        raise GalcatError(f"--classes {bad or '(empty)'}: use 9 and/or 11")
    return cfg


def _schemes(path) -> list[str]:
    from galcat.store import open_store

    with open_store(path) as store:
        return store.schemes


def plan(cfg: ReproduceConfig, skipped: list[str] | None = None) -> list[dict]:
    """The cells in run order: per catalogue and class count, LS-CE, probes, then DML; why a
    catalogue and class count has no cells is appended to ``skipped``."""
    skipped = [] if skipped is None else skipped
    test_name = next(iter(cfg.test))
    test_schemes = _schemes(cfg.test[test_name])
    cells = []
    for name, store in cfg.train.items():
        schemes = _schemes(store)
        for n in cfg.classes:
            scheme = SCHEME_FOR[n]
            if scheme not in schemes:
                skipped.append(f"{name}: no {scheme} labels in {store}; {n}-class cells skipped")
                continue
            if scheme not in test_schemes and not (n == 9 and "hubble11" in test_schemes):
                skipped.append(f"{test_name}: no labels for {n} classes; {name} {n}-class cells skipped")
                continue
            base = Path(cfg.out) / "cells" / f"{name}-{n}"
            common = {"train": name, "test": test_name, "store": store, "classes": n, "scheme": scheme}
            lsce = base / "ls-ce"
            cells.append({**common, "stage": "ls-ce", "run": str(lsce), "init": cfg.init})
            if cfg.probe:
                if cfg.init:
                    cells.append(
                        {**common, "stage": "probe", "run": str(base / "probe-init"), "trunk": cfg.init}
                    )
                cells.append(
                    {**common, "stage": "probe", "run": str(base / "probe-ls-ce"), "trunk": str(lsce)}
                )
            for loss in cfg.losses:
                for miner in cfg.miners:
                    run = base / f"dml-{loss}-{miner}"
                    cells.append({**common, "stage": "dml", "loss": loss, "miner": miner, "run": str(run),
                                  "init": str(lsce)})  # fmt: skip
    return cells


def _train_config(cfg: ReproduceConfig, cell: dict):
    from galcat.model import TrainConfig

    dml = cell["stage"] == "dml"
    return TrainConfig(
        store=cell["store"], stage=cell["stage"], out=cell["run"], scheme=cell["scheme"],
        loss=cell.get("loss") or "proxy-nca", miner=cell.get("miner") or "pair", init=cell.get("init"),
        arch=cfg.arch, image_size=cfg.image_size, folds=cfg.folds,
        epochs=cfg.dml_epochs if dml else cfg.lsce_epochs, batch_size=cfg.batch_size,
        max_steps=cfg.max_steps, device=cfg.device, seed=cfg.seed, progress=False,
    )  # fmt: skip


def _val_map_at_r(run: Path) -> float | None:
    path = run / "summary.json"
    if not path.exists():
        return None
    stats = json.loads(path.read_text()).get("metrics", {}).get("map_at_r")
    return stats["mean"] if stats else None


def run_cell(cfg: ReproduceConfig, cell: dict) -> dict:
    """Train (or resume) and evaluate one cell; ``cell.json`` marks it finished."""
    from galcat.evaluate import EvaluateConfig, evaluate

    run = Path(cell["run"])
    done = run / "cell.json"
    if done.exists():
        record = json.loads(done.read_text())
        if (Path(cfg.out) / record.get("report", "")).is_file():
            return record
        # the cell's report was deleted: evaluate again (training resumes as finished: nothing is retrained)
    started = time.perf_counter()
    report = run / f"test-{cell['test']}"
    device = None if cfg.device == "auto" else cfg.device
    if cell["stage"] == "probe":
        from galcat.experiments.probe import ProbeConfig, probe

        pcfg = ProbeConfig(
            model=cell["trunk"], store=cell["store"], test=cell["test_store"], out=str(report),
            scheme=cell["scheme"], bootstrap=cfg.bootstrap, device=device, seed=cfg.seed,
        )  # fmt: skip
        metrics = probe(pcfg)
    else:
        from galcat.model import train

        train(_train_config(cfg, cell))
        ecfg = EvaluateConfig(model=str(run), query=cell["test_store"], out=str(report),
                              bootstrap=cfg.bootstrap, seed=cfg.seed, device=device)  # fmt: skip
        metrics = evaluate(ecfg)
    record = {k: v for k, v in cell.items() if k != "test_store"}
    record.update(
        folds=len(metrics["folds"]),
        summary=metrics["summary"],
        val_map_at_r=_val_map_at_r(run),
        report=str(Path(report, "report.md").relative_to(cfg.out)),
        seconds=round(time.perf_counter() - started, 1),
    )
    atomic_write(done, json.dumps(record, indent=2, default=json_default) + "\n")
    return record


def _audits(cfg: ReproduceConfig) -> tuple[list[dict], dict]:
    """Audit every pair of catalogues that share galaxies; class shares of each catalogue."""
    from galcat.experiments.audit import AuditConfig, audit, class_shares, read_labelled, scheme_labels
    from galcat.schemes import HUBBLE9

    stores = {**cfg.train, **cfg.test}
    shares = {name: class_shares(scheme_labels(read_labelled(p), "hubble9", "", p), len(HUBBLE9))
              for name, p in stores.items()}  # fmt: skip
    results = []
    pairs = [(a, b) for a, b in combinations(cfg.train, 2)] + [(a, next(iter(cfg.test))) for a in cfg.train]
    for a, b in pairs:
        out = Path(cfg.out) / "audits" / f"{a}-vs-{b}"
        entry = {"a": a, "b": b, "report": str((out / "audit.md").relative_to(cfg.out))}
        if (out / "audit.json").exists() and (out / "audit.md").exists():
            result = json.loads((out / "audit.json").read_text())
        else:
            try:
                result = audit(AuditConfig(a=stores[a], b=stores[b], out=str(out), names=(a, b),
                                           bootstrap=cfg.bootstrap, seed=cfg.seed))  # fmt: skip
            except GalcatError as exc:  # no shared galaxy (e.g. the overlap was removed, as the paper did)
                results.append({**entry, "skipped": f"no shared galaxy ({exc})"})
                continue
        entry.update({k: result.get(k) for k in ("n_pairs", "agreement", "kappa", "kappa_ci")})
        results.append(entry)
    return results, shares


def reproduce(cfg: ReproduceConfig) -> dict:
    """Run every cell (skipping finished ones), then write ``results.ecsv`` and ``tables.md``."""
    from galcat.experiments.paper import mark_best_miners, write_tables

    cfg = check_reproduce_config(cfg.resolved())
    skipped: list[str] = []
    cells = plan(cfg, skipped)
    if not cells:
        raise GalcatError(f"nothing to run ({'; '.join(skipped)}); check the stores' label schemes")
    for note in skipped:
        console.print(f"[yellow]{note}[/]")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "reproduce_config.json")
    test_name, test_store = next(iter(cfg.test.items()))
    started = time.perf_counter()
    records = []
    for i, cell in enumerate(cells, 1):
        label = " ".join(str(cell.get(k) or "") for k in ("train", "classes", "stage", "loss", "miner"))
        finished = (Path(cell["run"]) / "cell.json").exists()
        if not finished:
            console.print(f"[bold cyan]>>[/] cell {i}/{len(cells)}: {label.strip()}")
        records.append(run_cell(cfg, {**cell, "test_store": test_store}))
    audits, shares = _audits(cfg) if cfg.audit else ([], {})
    mark_best_miners(records)
    settings = {
        k: getattr(cfg, k) for k in ("arch", "image_size", "lsce_epochs", "dml_epochs", "init", "quick")
    }
    context = {"test_name": test_name, "test_store": test_store, "train": cfg.train, "folds": cfg.folds,
               "settings": settings, "audits": audits, "shares": shares}  # fmt: skip
    paths = write_tables(out, records, context)
    return {"cells": records, "audits": audits, "paths": paths, "seconds": time.perf_counter() - started}
