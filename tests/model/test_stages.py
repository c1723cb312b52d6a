"""End-to-end training on synthetic stores: every stage, the run directory, resume, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from galcat.model import TrainConfig, load_run, train
from galcat.model.builders import build_model, make_optimizers
from galcat.model.config import resolve_config
from galcat.model.data import make_augment, make_batches, open_training_data
from galcat.model.steps import Objective

CLASSES = ["E", "Sc", "Irr"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    return make_synthetic_store(tmp_path_factory.mktemp("synth") / "s.h5", CLASSES, n_per_class=8, size=32)


def tiny(store, out, **kw):
    base = dict(store=str(store), out=str(out), folds=1, val_fraction=0.25, epochs=1, batch_size=6,
                max_steps=2, embedding_dim=16, progress=False)  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("stage", ["votes", "ce", "ls-ce", "dml"])
def test_each_stage_lowers_its_loss_on_a_fixed_batch(store, stage):
    """The real network, objective, augmentation and optimisers for the stage, a few steps."""
    torch.manual_seed(0)
    cfg = resolve_config(tiny(store, "x", stage=stage, lr=1e-3, loss="proxy-nca", miner="pair"), "cpu", 32)
    data = open_training_data(str(store), stage, None)
    model = build_model(cfg, data, None)
    objective = Objective(cfg, n_classes=len(data.class_names))
    opts = make_optimizers(cfg, model, objective)
    batch = next(iter(make_batches(data, data.rows, 12, True, 0, None if stage == "votes" else data.scheme,
                                   stage == "votes")))  # fmt: skip
    x = make_augment(32, train=False)(batch["images"])
    losses = []
    for _ in range(6):
        loss = objective(model(x), batch, train=True)
        losses.append(loss.item())
        for o in opts:
            o.zero_grad()
        loss.backward()
        for o in opts:
            o.step()
    assert min(losses[-2:]) < losses[0], losses


def test_stages_chain_into_a_run_directory_that_loads_and_predicts(store, tmp_path):
    votes = train(tiny(store, tmp_path / "votes", stage="votes"))
    assert "rmse" in votes.summary["metrics"]
    lsce = train(tiny(store, tmp_path / "lsce", stage="ls-ce", init=str(tmp_path / "votes")))
    dml = train(tiny(store, tmp_path / "dml", stage="dml", loss="triplet", miner="triplet", m_per_class=2,
                     init=str(tmp_path / "lsce")))  # fmt: skip
    for res in (lsce, dml):
        assert {"accuracy", "macro_f1", "map_at_r", "precision_at_1", "val_loss"} <= set(
            res.summary["metrics"]
        )
    run_dir = tmp_path / "dml"
    for name in ("config.json", "summary.json", "fold0/best.pt", "fold0/last.pt", "fold0/metrics.jsonl"):
        assert (run_dir / name).exists(), name
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["arch"] == "resnet18" and cfg["scheme"] == "hubble9" and cfg["galcat_version"]
    ckpt = torch.load(run_dir / "fold0" / "best.pt", weights_only=True)
    assert ckpt["store_fingerprint"] and ckpt["class_names"][:1] == ["E"] and ckpt["stage"] == "dml"
    run = load_run(run_dir)
    fold = run.folds[0]
    assert run.config.loss == "triplet" and fold.scheme == "hubble9" and not fold.model.training
    assert not set(fold.train_indices) & set(fold.val_indices)
    assert len(fold.train_indices) + len(fold.val_indices) == 24
    pred = run.predictor(calibrate=False, batch_size=4).predict_store(store, fold.val_indices)
    assert pred.embeddings.shape == (6, 16) and pred.index.tolist() == sorted(fold.val_indices.tolist())
    probs = pred.probabilities
    assert probs.shape == (6, len(fold.class_names)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    # the init really transferred: the dml trunk started from the ls-ce one, not from scratch
    lsce_first = torch.load(tmp_path / "lsce" / "fold0" / "best.pt", weights_only=True)["state_dict"]
    fresh = build_model(resolve_config(tiny(store, "x", stage="dml"), "cpu", 32),
                        open_training_data(str(store), "dml", None), None).state_dict()  # fmt: skip
    key = "trunk.conv1.weight"
    assert not torch.equal(lsce_first[key], fresh[key])


def test_a_small_model_separates_three_synthetic_classes(tmp_path):
    from galcat.synth import make_synthetic_store

    store = make_synthetic_store(tmp_path / "sep.h5", CLASSES, n_per_class=20, size=32)
    cfg = TrainConfig(store=str(store), stage="ce", out=str(tmp_path / "run"), folds=1, val_fraction=0.3,
                      epochs=5, batch_size=12, progress=False)  # fmt: skip
    res = train(cfg)
    metrics = res.summary["metrics"]
    assert metrics["precision_at_1"]["mean"] >= 0.7  # chance is 1/3
    assert metrics["accuracy"]["mean"] >= 0.6


def test_interrupted_run_resumes_from_its_last_epoch(store, tmp_path, monkeypatch):
    import galcat.model.loop as loop

    real_run_epoch = loop.run_epoch
    calls = []

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kw)

    cfg = tiny(store, tmp_path / "run", stage="ce", epochs=3)
    monkeypatch.setattr(loop, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    saved = torch.load(tmp_path / "run" / "fold0" / "last.pt", weights_only=True)
    assert saved["epoch"] == 0 and not (tmp_path / "run" / "fold0" / "result.json").exists()
    calls.clear()
    monkeypatch.setattr(loop, "run_epoch", lambda *a, **k: (calls.append(1), real_run_epoch(*a, **k))[1])
    result = train(cfg)
    assert len(calls) == 2  # epochs 1 and 2 only
    log = [json.loads(ln) for ln in (tmp_path / "run" / "fold0" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1, 2]
    assert result.folds[0]["epochs_run"] == 3
    calls.clear()
    train(cfg)  # finished folds are skipped
    assert calls == []
    with pytest.raises(Exception, match="different configuration"):
        train(tiny(store, tmp_path / "run", stage="ce", epochs=4))


def test_cli_trains_and_reports_user_errors_in_one_line(store, tmp_path):
    from galcat.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["train", "--store", str(store), "--stage", "ce", "--folds", "1", "--epochs", "1",
                             "--batch-size", "6", "--max-steps", "1", "--embedding-dim", "8",
                             "--out", str(tmp_path / "cli")])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "accuracy" in ok.output and (tmp_path / "cli" / "summary.json").exists()
    bad = runner.invoke(
        app, ["train", "--store", str(store), "--scheme", "nope", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "no label scheme 'nope'" in bad.output
    missing = runner.invoke(
        app, ["train", "--store", str(tmp_path / "none.h5"), "--out", str(tmp_path / "y")]
    )
    assert missing.exit_code == 2 and "none.h5" in missing.output
    pickled = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)
    refused = runner.invoke(
        app, ["train", "--store", str(store), "--init", str(pickled), "--out", str(tmp_path / "z")]
    )
    assert refused.exit_code == 2 and "needs pickle" in refused.output


def test_init_from_a_kfold_run_uses_the_matching_fold(store, tmp_path, monkeypatch):
    """Fold k starts from the earlier run's fold k, so no validation row was trained on before."""
    import galcat.model.loop as loop

    first = train(tiny(store, tmp_path / "ce", stage="ce", folds=2, max_steps=1))
    seen = []
    real_build = loop.build_model

    def spy(cfg, data, init):
        seen.append(init["val_indices"].tolist())
        return real_build(cfg, data, init)

    monkeypatch.setattr(loop, "build_model", spy)
    train(tiny(store, tmp_path / "lsce", stage="ls-ce", folds=2, max_steps=1, init=str(tmp_path / "ce")))
    run = load_run(tmp_path / "ce")
    assert seen == [fold.val_indices.tolist() for fold in run.folds]
    assert len(first.folds) == 2 and seen[0] != seen[1]
