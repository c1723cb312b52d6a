"""``probe(ProbeConfig)``: a small head on a frozen trunk's features (the paper's DeepGalaxy test).

Why: the paper (Sections II-D and IV) took a network trained for another task, froze it, used
its 1-D features as input to an MLP that learned the Hubble types of EFIGI, and tested it on
RSA. Here any galcat run supplies the frozen trunk. Features are computed once per store, the
head (``linear`` or ``mlp``) trains on the training store's features in seconds, and the test
store is scored with the same report as ``galcat evaluate`` (classification from the head,
retrieval on the frozen features against the training features).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from galcat.config import save_config
from galcat.errors import GalcatError

HEADS = ("linear", "mlp")
FEATURES = ("trunk", "embedding")


@dataclass
class ProbeConfig:
    """Everything that defines one probe (``galcat probe``)."""

    model: str  # run directory (or checkpoint) whose trunk is frozen
    store: str  # labelled store the head trains on
    test: str  # labelled store it is evaluated on (the same store: a held-out split)
    out: str = "reports/probe"
    head: str = "linear"  # linear | mlp
    features: str = "trunk"  # trunk (pooled ResNet features) | embedding (the run's embedding head)
    scheme: str | None = None  # training store scheme (default: the run's, else the store's first)
    fold: int = 0  # which fold's network of the run
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = 256  # mlp only
    head_batch_size: int = 512
    val_fraction: float = 0.2  # held out for testing when test == store
    bootstrap: int = 1000
    batch_size: int = 128  # feature extraction
    device: str | None = None
    seed: int = 0


class FrozenFeatures(nn.Module):
    """A run's network reduced to the features the probe reads (a :class:`Predictor` runs it)."""

    def __init__(self, net: nn.Module, features: str):
        super().__init__()
        self.net, self.features = net, features
        self.image_size = getattr(net, "image_size", 75)
        self.embedding_dim = getattr(net, "embedding_dim", 0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.features == "trunk":
            return {"embedding": self.net.trunk(x)}
        return {"embedding": self.net(x)["embedding"]}


def make_head(kind: str, n_in: int, n_classes: int, hidden: int = 256) -> nn.Module:
    if kind == "linear":
        return nn.Linear(n_in, n_classes)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.25), nn.Linear(hidden, n_classes))


def fit_head(features: np.ndarray, labels: np.ndarray, n_classes: int, cfg: ProbeConfig):
    """Standardise the features, train the head with Adam + cross-entropy; returns a predictor."""
    x = torch.as_tensor(features, dtype=torch.float32)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    y = torch.as_tensor(labels, dtype=torch.int64)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    head = make_head(cfg.head, x.shape[1], n_classes, cfg.hidden)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    xs = (x - mean) / std
    losses = []
    head.train()
    for _ in range(cfg.epochs):
        total = 0.0
        for idx in torch.randperm(len(xs), generator=gen).split(cfg.head_batch_size):
            loss = nn.functional.cross_entropy(head(xs[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(xs))
    head.eval()

    @torch.no_grad()
    def predict_probs(new: np.ndarray) -> np.ndarray:
        z = (torch.as_tensor(new, dtype=torch.float32) - mean) / std
        return torch.softmax(head(z), dim=1).numpy()

    return predict_probs, losses


def _features(extractor, labelled, cfg: ProbeConfig) -> np.ndarray:
    from galcat.model.predictor import Predictor

    predictor = Predictor([(cfg.fold, extractor)], batch_size=cfg.batch_size, device=cfg.device)
    pred = predictor.predict_store(labelled.path, labelled.rows)
    if not np.array_equal(pred.index, labelled.rows):
        raise GalcatError(f"{labelled.path}: features do not cover the requested rows")
    return pred.fold_embeddings[0]


def _train_scheme(cfg: ProbeConfig, fold) -> tuple[str, list[str]]:
    from galcat.store import open_store

    with open_store(cfg.store) as store:
        scheme = store.choose_scheme(cfg.scheme, fold.scheme, fold.class_names or (), need="the probe head")
        return scheme, store.class_names(scheme)


def check_probe_config(cfg: ProbeConfig) -> ProbeConfig:
    """GalcatError naming the option for a bad choice or a value out of range; returns ``cfg``."""
    from galcat.ranges import bound, check_numbers

    if cfg.head not in HEADS:
        raise GalcatError(f"--head {cfg.head!r} is not one of {', '.join(HEADS)}")
    if cfg.features not in FEATURES:
        raise GalcatError(f"--features {cfg.features!r} is not one of {', '.join(FEATURES)}")
    check_numbers(
        cfg,
        {
            "fold": bound("fold"),
            "epochs": bound("epochs"),
            "lr": {"low": 0, "high": 10, "low_open": True, "option": "lr"},
            "weight_decay": {"low": 0, "high": 1, "option": "weight_decay"},
            "hidden": {"low": 1, "high": 65536, "integer": True, "option": "hidden"},
            "head_batch_size": bound("batch_size", option="head_batch_size"),
            "val_fraction": bound("fraction", high=0.99, option="val_fraction"),
            "bootstrap": bound("bootstrap"),
            "batch_size": bound("batch_size"),
            "seed": bound("seed"),
        },
    )
    return cfg


def probe(cfg: ProbeConfig) -> dict:
    """Extract frozen features, train the head, evaluate on ``cfg.test``; write the evaluate report."""
    from galcat.evaluate.api import evaluate_arrays, labelled_rows
    from galcat.evaluate.report import summarize_folds, write_report
    from galcat.model import load_run
    from galcat.model.folds import make_folds

    check_probe_config(cfg)
    from galcat.paths import check_writable

    check_writable(cfg.out, kind="folder")  # before the features are computed
    from galcat.model.ensemble import select_folds

    run = load_run(cfg.model)
    fold = select_folds(run, cfg.fold)[0][1]  # a fold that exists and is finished
    scheme, classes = _train_scheme(cfg, fold)
    train = labelled_rows(cfg.store, scheme, scheme, classes)
    same = Path(cfg.test).resolve() == Path(cfg.store).resolve()
    if same:  # one store: the head never sees the held-out rows it is scored on
        (fit_rows, held), *_ = make_folds(train.rows, train.codes, 1, cfg.val_fraction, cfg.seed)
        test = labelled_rows(cfg.test, scheme, scheme, classes, rows=held)
        train = labelled_rows(cfg.store, scheme, scheme, classes, rows=fit_rows)
    else:
        test = labelled_rows(cfg.test, None, scheme, classes)
    extractor = FrozenFeatures(fold.model, cfg.features).eval()
    for p in extractor.parameters():
        p.requires_grad_(False)
    started, cpu = time.perf_counter(), time.process_time()
    train_x = _features(extractor, train, cfg)
    test_x = _features(extractor, test, cfg)
    features_s, features_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    predict_probs, losses = fit_head(train_x, train.codes, len(classes), cfg)
    head_s, head_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    result = evaluate_arrays(
        test_x, test.codes, train_x, train.codes, classes, probs=predict_probs(test_x),
        bootstrap=cfg.bootstrap, seed=cfg.seed,
    )  # fmt: skip
    result.update(
        fold=cfg.fold,
        n_query=int(len(test.rows)),
        query_rows="held-out rows of the training store" if same else "all labelled rows",
        n_reference=int(len(train.rows)),
    )
    metrics = {
        "model": f"probe-{cfg.head} on {Path(cfg.model).name or cfg.model}",
        "model_path": str(cfg.model),
        "stage": f"probe-{cfg.head}",
        "query": str(cfg.test),
        "query_scheme": test.scheme,
        "reference": f"frozen {cfg.features} features of {cfg.store} (the head's training rows)",
        "scheme": scheme,
        "class_names": list(classes),
        "folds": [result],
        "summary": summarize_folds([result]),
        "probe": {
            "features_s": round(features_s, 2),
            "head_s": round(head_s, 2),
            "features_cpu_s": round(features_cpu_s, 2),
            "head_cpu_s": round(head_cpu_s, 2),
            "feature_dim": int(train_x.shape[1]),
            "n_train": int(len(train.rows)),
            "final_loss": losses[-1] if losses else None,
            "source_stage": run.config.stage,
        },
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
    out = Path(cfg.out)
    write_report(out, metrics)
    save_config(cfg, out / "probe_config.json")
    return metrics
