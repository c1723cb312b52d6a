"""galcat's CPU recipe against a plain ResNet18 cross-entropy script, on real Galaxy Zoo 1 galaxies.

Both train on the same stratified 80/20 split of ``../shared/data/gz1`` (galcat's own one-fold
split, fixed seed) of a 64 px store (centre crop 224 of 424, as galcat builds it) and are scored
the same way on the 20 %: accuracy and macro F1 of their class predictions, precision@1 and MAP@R
of the validation embeddings against the training embeddings.

* baseline: torchvision ResNet18, cross-entropy, Adam with OneCycle (max lr 1e-3), random flips
  and 90-degree turns, batch 64, 10 epochs, the last epoch kept; its embedding is the 512-d pooled
  feature.
* galcat: ``galcat train`` with the CPU defaults, stage ``ls-ce`` then ``dml`` (ProxyNCA + pair
  miner, ``--init`` the first stage), ``--folds 1``; predictions are the DML model's (distance-weighted
  vote of the 20 nearest training galaxies), embeddings and predictions averaged over the four
  90-degree turns of each image (galcat's default; the plain script scores one view).

Usage::

    nice python benchmarks/baseline_cnn.py [--data ../shared/data/gz1] [--work DIR] [--seed 0]

Prints both per-class tables, and as the last line JSON ``{"baseline": {...}, "galcat": {...},
"galcat_minutes": ..., "baseline_minutes": ..., "galcat_over_baseline_minutes": ...}`` (the
training-time ratio of the two recipes, timed in the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from galcat.evaluate import EvaluateConfig, evaluate, evaluate_arrays
from galcat.model.data import make_augment, make_batches, open_training_data
from galcat.model.folds import make_folds

#: the CLI of the galcat this interpreter imports (works without an activated environment)
GALCAT = (sys.executable, "-m", "galcat")
HEADLINE = ("accuracy", "macro_f1", "precision_at_1", "map_at_r")


def build_store(data: Path, store: Path) -> None:
    """The 64 px GZ1 store, through the CLI exactly as the README builds it."""
    cmd = [
        *GALCAT,
        "build",
        "folder",
        "--images",
        str(data / "images"),
        "--catalogue",
        str(data / "labels.csv"),
        "--id-column",
        "OBJID",
        "--label-column",
        "class_name",
        "--size",
        "64",
        "--out",
        str(store),
    ]
    subprocess.run(cmd, check=True)


def _features(model, store, rows, augment) -> tuple[np.ndarray, np.ndarray]:
    """(pooled 512-d features, logits) of store rows, in that order."""
    model.eval()
    trunk_fc, model.fc = model.fc, torch.nn.Identity()
    feats = []
    with torch.no_grad():
        for batch in make_batches(store, rows, 256, False, 0, None):
            feats.append(model(augment(batch["images"])))
    model.fc = trunk_fc
    features = torch.cat(feats)
    with torch.no_grad():
        logits = model.fc(features)
    return features.numpy(), logits.numpy()


def train_baseline(store: str, train_rows, val_rows, data, epochs: int, seed: int):
    """The plain recipe; returns (val features, val logits, train features)."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=len(data.class_names))
    train_aug = make_augment(64, True, flips=True, rot90=True)
    eval_aug = make_augment(64, False)
    drop_last = len(train_rows) >= 128
    loaders = [
        make_batches(store, train_rows, 64, True, seed + epoch, data.scheme, drop_last=drop_last)
        for epoch in range(epochs)
    ]
    steps = len(loaders[0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=epochs * steps)
    for epoch, loader in enumerate(loaders):
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in loader:
            loss = F.cross_entropy(model(train_aug(batch["images"])), batch["labels"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        print(
            f"baseline epoch {epoch + 1}/{epochs}: loss {total / steps:.4f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    val_feat, val_logits = _features(model, store, val_rows, eval_aug)
    train_feat, _ = _features(model, store, train_rows, eval_aug)
    return val_feat, val_logits, train_feat


def labels_of(data, rows) -> np.ndarray:
    return data.labels[np.searchsorted(data.rows, rows)]


def run_galcat(store: str, work: Path, seed: int, extra: list[str]) -> tuple[dict, float, Path]:
    """The README's two CPU commands; returns (fold metrics, training minutes, run dir)."""
    lsce, dml = work / "galcat-lsce", work / "galcat-dml"
    common = ["--store", store, "--folds", "1", "--seed", str(seed), *extra]
    started = time.perf_counter()
    for cmd in (
        [*GALCAT, "train", *common, "--stage", "ls-ce", "--out", str(lsce)],
        [
            *GALCAT,
            "train",
            *common,
            "--stage",
            "dml",
            "--loss",
            "proxy-nca",
            "--miner",
            "pair",
            "--init",
            str(lsce),
            "--out",
            str(dml),
        ],
    ):
        subprocess.run(cmd, check=True)
    minutes = (time.perf_counter() - started) / 60
    metrics = evaluate(
        EvaluateConfig(model=str(dml), query=store, out=str(work / "galcat-report"), bootstrap=0)
    )
    return metrics["folds"][0], minutes, dml


def per_class_table(name: str, fold: dict, class_names) -> str:
    per = fold["classification"]["per_class"]
    lines = [f"\n{name}", f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    for c in class_names:
        row = per[c]
        lines.append(
            f"{c:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>7d}"
        )
    return "\n".join(lines)


def headline(fold: dict) -> dict:
    cls, ret = fold["classification"], fold["retrieval"]
    return {
        "accuracy": cls["accuracy"],
        "macro_f1": cls["macro_f1"],
        "precision_at_1": ret["precision_at_1"],
        "map_at_r": ret["map_at_r"],
    }


def main() -> None:
    default_data = Path(
        os.environ.get("GALCAT_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data / "gz1")
    parser.add_argument(
        "--work", type=Path, default=None, help="Folder for the store and runs (default: temporary)."
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="An existing 64 px GZ1 store (default: build one)."
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-epochs", type=int, default=10)
    parser.add_argument("--train-args", default="", help="Extra galcat train options (smoke runs only).")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="galcat-baseline-"))
    work.mkdir(parents=True, exist_ok=True)
    store = args.store or work / "gz1_64.h5"
    if not Path(store).exists():
        build_store(args.data, Path(store))
    store = str(store)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    data = open_training_data(store, "ls-ce", None)
    ((train_rows, val_rows),) = make_folds(data.rows, data.labels, 1, 0.2, args.seed)  # galcat's own split

    started = time.perf_counter()
    val_feat, val_logits, train_feat = train_baseline(
        store, train_rows, val_rows, data, args.baseline_epochs, args.seed
    )
    baseline_minutes = (time.perf_counter() - started) / 60
    base = evaluate_arrays(
        val_feat,
        labels_of(data, val_rows),
        train_feat,
        labels_of(data, train_rows),
        data.class_names,
        probs=torch.softmax(torch.from_numpy(val_logits), 1).numpy(),
    )

    ours, galcat_minutes, run_dir = run_galcat(store, work, args.seed, args.train_args.split())
    ckpt = torch.load(run_dir / "fold0" / "best.pt", weights_only=True)
    assert np.array_equal(np.sort(ckpt["val_indices"].numpy()), np.sort(val_rows)), "the two splits differ"

    print(per_class_table(f"baseline (ResNet18 CE, {baseline_minutes:.1f} min)", base, data.class_names))
    print(
        per_class_table(
            f"galcat (ls-ce -> dml, 20-NN vote, {galcat_minutes:.1f} min)", ours, data.class_names
        )
    )
    print(
        f"\nsplit: {len(train_rows)} training / {len(val_rows)} validation galaxies, seed {args.seed}; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "baseline": headline(base),
                "galcat": headline(ours),
                "galcat_minutes": round(galcat_minutes, 2),
                "baseline_minutes": round(baseline_minutes, 2),
                "galcat_over_baseline_minutes": round(galcat_minutes / baseline_minutes, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
