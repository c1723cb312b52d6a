"""galcat probe: a head on a frozen trunk, reported like galcat evaluate."""

from __future__ import annotations

import json

import numpy as np
import torch
from helpers.cli import invoke

from galcat.experiments.probe import ProbeConfig, probe
from galcat.model import load_run
from galcat.schemes import HUBBLE9
from galcat.synth import make_synthetic_store


def test_probe_trains_head_on_frozen_trunk_and_writes_evaluate_report(tiny, tmp_path):
    run, _ = tiny
    train_store = make_synthetic_store(tmp_path / "train.h5", HUBBLE9, n_per_class=20, size=32, seed=3)
    test_store = make_synthetic_store(tmp_path / "test.h5", HUBBLE9, n_per_class=8, size=32, seed=4)
    before = {k: v.clone() for k, v in load_run(run).folds[0].model.state_dict().items()}
    result = invoke("probe", "--model", run, "--store", train_store, "--test", test_store,
                    "--bootstrap", 50, "--out", tmp_path / "probe")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "MAP@R" in result.output and "head" in result.output
    metrics = json.loads((tmp_path / "probe" / "metrics.json").read_text())
    assert metrics["stage"] == "probe-linear" and metrics["class_names"] == list(HUBBLE9)
    fold = metrics["folds"][0]
    assert fold["n_query"] == 72 and fold["n_reference"] == 180
    assert fold["classifier"] == "softmax head" and fold["roc"] is not None
    assert metrics["probe"]["feature_dim"] == 512  # resnet18 pooled trunk features
    assert metrics["summary"]["accuracy"]["mean"] > 1.5 / 9  # well above chance on synthetic galaxies
    report = (tmp_path / "probe" / "report.md").read_text()
    assert "## Summary (layout of the paper's Tables 3-4)" in report and "| probe-linear on" in report
    assert (tmp_path / "probe" / "confusion.png").exists()
    after = load_run(run).folds[0].model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the run itself is untouched


def test_probe_on_one_store_holds_rows_out_and_mlp_head(tiny, tmp_path):
    run, store = tiny
    cfg = ProbeConfig(model=str(run), store=str(store), test=str(store), head="mlp", features="embedding",
                      epochs=5, bootstrap=0, out=str(tmp_path / "p"))  # fmt: skip
    metrics = probe(cfg)
    fold = metrics["folds"][0]
    assert fold["query_rows"] == "held-out rows of the training store"
    assert fold["n_query"] + fold["n_reference"] == 54 and fold["n_query"] >= 9
    assert metrics["probe"]["feature_dim"] == 16  # the run's embedding size
    assert np.isfinite(metrics["probe"]["final_loss"])


def test_probe_bad_head_is_one_line_error(tiny, tmp_path):
    run, store = tiny
    result = invoke("probe", "--model", run, "--store", store, "--test", store, "--head", "forest",
                    "--out", tmp_path / "x")  # fmt: skip
    assert result.exit_code == 2 and "--head 'forest'" in result.output
