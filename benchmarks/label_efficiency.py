"""Label efficiency: accuracy against labelled galaxies per class, from three starting points.

The task is the binary Galaxy Zoo 2 "Galaxy Challenge" subset in ``../shared/data/gz2/kaggle``
(built with ``galcat build folder``), with one fixed stratified validation split (galcat's own
``--folds 1 --val-fraction 0.2 --seed 0``, identical in every run). Each init trains at N
labelled galaxies per class (``--labels-per-class``, a seeded subset of the training split only)
and on all training labels:

* ``random``: random weights;
* ``gz1``: a galcat ls-ce model trained on Galaxy Zoo 1 (another catalogue and question);
* ``ssl``: a ``galcat pretrain`` (SimCLR) encoder on the unlabelled GZ1 images plus the task's
  training images (its validation galaxies are excluded by objid).

Usage::

    python benchmarks/label_efficiency.py [--work runs/label_efficiency] [--size 32] [--quick]

Prints progress, then one JSON line (accuracy, macro F1, P@1, MAP@R per init and N, minutes) and
draws ``WORK/label_efficiency.png``. The figures are those of the best epoch chosen on the
validation split by macro F1 (galcat's default), the same rule for every init. ``--quick`` is a
smoke run on a few hundred galaxies with one capped epoch (the test suite runs it).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from galcat.model import TrainConfig, train
from galcat.model.data import open_training_data
from galcat.model.folds import make_folds
from galcat.model.pretrain import PretrainConfig, pretrain

DATA = Path(
    os.environ.get("GALCAT_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
METRICS = ("accuracy", "macro_f1", "precision_at_1", "map_at_r")
INITS = ("random", "gz1", "ssl")


def build(
    images: Path, labels: Path, columns: tuple[str, str], out: Path, size: int, per_class: int | None
) -> Path:
    """``galcat build folder`` once (a finished store is reused); ``per_class``: the first rows of
    each class only (the quick mode's small stores)."""
    if out.exists():
        return out
    if per_class:
        with open(labels, newline="") as fh:
            rows = list(csv.DictReader(fh))
        seen: dict[str, int] = {}
        keep = [r for r in rows if seen.setdefault(r[columns[1]], 0) < per_class and not seen.update(
            {r[columns[1]]: seen[r[columns[1]]] + 1})]  # fmt: skip
        labels = out.with_suffix(".csv")
        with open(labels, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(keep)
    cmd = [sys.executable, "-m", "galcat", "build", "folder", "--images", str(images), "--catalogue",
           str(labels), "--id-column", columns[0], "--label-column", columns[1], "--size", str(size),
           "--workers", "1", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def validation_store(task: Path, out: Path, seed: int) -> tuple[Path, int]:
    """The task's validation galaxies as a store of their own (what pretraining must not see)."""
    from galcat.store import open_store, write_store

    data = open_training_data(str(task), "ls-ce", None)
    ((train_rows, val_rows),) = make_folds(data.rows, data.labels, 1, 0.2, seed)
    if not out.exists():
        store = open_store(task)
        write_store(out, store.catalogue[val_rows], store.read_images(val_rows))
    return out, len(train_rows)


def epochs_for(n_per_class: int | None, quick: bool, scale: float = 1.0) -> int:
    """Fewer labels, more epochs: every budget gets a comparable number of optimiser steps."""
    if quick:
        return 1
    return max(1, round(scale * {25: 10, 100: 6, 300: 4}.get(n_per_class, 2)))


def run_cell(args, task: Path, init: str | None, name: str, n: int | None) -> dict:
    lr_factor = 1.0 if init is None else args.trunk_lr_factor
    batch = 32 if n and n <= 100 else 64  # a few labels still make several steps an epoch
    cfg = TrainConfig(
        store=str(task), stage="ls-ce", out=str(args.work / "cells" / f"{name}-{n or 'all'}"), init=init,
        arch="resnet18", image_size=args.size, folds=1, val_fraction=0.2,
        epochs=epochs_for(n, args.quick, args.epochs_scale), batch_size=batch,
        lr=args.lr, trunk_lr_factor=lr_factor, bn_images=256, predict_turns=1, labels_per_class=n,
        device="cpu", seed=args.seed, progress=False, max_steps=2 if args.quick else None,
    )  # fmt: skip
    started = time.perf_counter()
    result = train(cfg).folds[0]
    cell = {m: round(float(result.get(m, math.nan)), 4) for m in METRICS}
    cell.update(n_train=result["n_train"], n_val=result["n_val"], epochs=cfg.epochs,
                minutes=round((time.perf_counter() - started) / 60, 2))  # fmt: skip
    print(f"{name} N={n or 'all'}: {cell}", flush=True)
    return cell


def plot(results: dict, n_all_per_class: float, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=120, layout="constrained")
    ax = fig.subplots()
    for name, cells in results.items():
        xs = [n_all_per_class if key == "all" else int(key) for key in cells]
        ax.plot(xs, [c["accuracy"] for c in cells.values()], "o-", label=name)
    ax.set_xscale("log")
    ax.set(xlabel="labelled galaxies per class (log; last point: all)", ylabel="validation accuracy",
           title="GZ2 spiral / non-spiral: label efficiency")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path)


def goals(results: dict) -> dict:
    """The issue's goals: best transfer - random at 100/class; transfer at N vs random at the next budget."""
    rnd = results["random"]
    out = {}
    if "100" in rnd:
        best = max(results[i]["100"]["accuracy"] for i in ("gz1", "ssl"))
        out["gain_at_100_points"] = round(100 * (best - rnd["100"]["accuracy"]), 2)
    keys = list(rnd)
    for i in ("gz1", "ssl"):
        for a, b in zip(keys, keys[1:], strict=False):
            out[f"{i}@{a}_minus_random@{b}_points"] = round(
                100 * (results[i][a]["accuracy"] - rnd[b]["accuracy"]), 2
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/label_efficiency"))
    parser.add_argument("--data", type=Path, default=DATA, help="The shared data folder.")
    parser.add_argument("--size", type=int, default=32, help="Image side of the stores, pixels.")
    parser.add_argument("--task-store", type=Path, help="The GZ2 store already built (trained at --size).")
    parser.add_argument("--gz1-store", type=Path, help="A GZ1 store already built (trained at --size).")
    parser.add_argument("--per-class", type=int, nargs="+", default=[25, 100, 300])
    parser.add_argument("--gz1-epochs", type=int, default=2)
    parser.add_argument("--gz1-steps", type=int, default=40, help="Batches per GZ1 epoch (0: all).")
    parser.add_argument("--ssl-epochs", type=int, default=2)
    parser.add_argument("--ssl-steps", type=int, default=40, help="Batches per pretraining epoch (0: all).")
    parser.add_argument("--ssl-batch", type=int, default=64, help="Galaxies (view pairs) per batch.")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="Multiplies every budget's epochs.")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--trunk-lr-factor", type=float, default=0.3, help="For the transfer inits.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Smoke run: 40 galaxies a class, capped epochs.")
    args = parser.parse_args()
    if args.quick:
        args.per_class = [5, 10]
    limit = 40 if args.quick else None
    started = time.perf_counter()
    stores = args.work / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    kaggle, gz1_dir = args.data / "gz2" / "kaggle", args.data / "gz1"
    task = args.task_store or build(kaggle / "images", kaggle / "labels.csv", ("GalaxyID", "label"),
                 stores / f"gz2k_{args.size}.h5", args.size, limit)  # fmt: skip
    gz1 = args.gz1_store or build(gz1_dir / "images", gz1_dir / "labels.csv", ("OBJID", "class_name"),
                                  stores / f"gz1_{args.size}.h5", args.size, limit)  # fmt: skip
    val_store, n_train = validation_store(task, stores / f"gz2k_{args.size}_val.h5", args.seed)
    minutes = {"stores": round((time.perf_counter() - started) / 60, 2)}

    t0 = time.perf_counter()
    gz1_run = args.work / "gz1-lsce"
    train(TrainConfig(
        store=str(gz1), stage="ls-ce", out=str(gz1_run), arch="resnet18", image_size=args.size, folds=1,
        epochs=1 if args.quick else args.gz1_epochs, batch_size=64, bn_images=256, predict_turns=1,
        device="cpu", seed=args.seed, progress=False, max_steps=2 if args.quick else (args.gz1_steps or None),
    ))  # fmt: skip
    minutes["gz1_source"] = round((time.perf_counter() - t0) / 60, 2)
    t0 = time.perf_counter()
    ssl_run = args.work / "ssl"
    pretrain(PretrainConfig(
        stores=[str(gz1), str(task)], exclude_stores=[str(val_store)], out=str(ssl_run), arch="resnet18",
        image_size=args.size,
        epochs=1 if args.quick else args.ssl_epochs, batch_size=args.ssl_batch, device="cpu", seed=args.seed,
        progress=False, max_steps=2 if args.quick else (args.ssl_steps or None),
    ))  # fmt: skip
    minutes["ssl_pretrain"] = round((time.perf_counter() - t0) / 60, 2)

    inits = {"random": None, "gz1": str(gz1_run), "ssl": str(ssl_run)}
    results = {name: {} for name in INITS}
    for n in [*args.per_class, None]:
        for name in INITS:
            results[name][str(n or "all")] = run_cell(args, task, inits[name], name, n)
    plot(results, n_train / 2, args.work / "label_efficiency.png")
    minutes["total"] = round((time.perf_counter() - started) / 60, 2)
    settings = {
        "size": args.size, "arch": "resnet18", "stage": "ls-ce", "val_fraction": 0.2, "seed": args.seed,
        "lr": args.lr, "trunk_lr_factor_transfer": args.trunk_lr_factor, "gz1_epochs": args.gz1_epochs,
        "ssl_epochs": args.ssl_epochs, "gz1_steps": args.gz1_steps, "ssl_steps": args.ssl_steps,
        "ssl_batch": args.ssl_batch,
        "epochs_per_N": {
            str(n or "all"): epochs_for(n, args.quick, args.epochs_scale) for n in [*args.per_class, None]
        },
        "quick": args.quick, "n_train_all": n_train,
    }  # fmt: skip
    line = {"benchmark": "label_efficiency", "settings": settings, "results": results,
            "goals": goals(results), "minutes": minutes}  # fmt: skip
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
