"""`galcat evaluate` on a 2-fold run: ensemble, pooled out-of-fold and single-fold reports with
calibration (ECE, Brier before/after), reliability diagram and the confident-mistakes gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.cli import invoke
from PIL import Image

from galcat.evaluate.report import report_markdown
from galcat.model.calibration import brier_score, expected_calibration_error
from galcat.schemes import HUBBLE9


@pytest.fixture(scope="module")
def other_store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    return make_synthetic_store(
        tmp_path_factory.mktemp("ensemble-query") / "query.h5", HUBBLE9, n_per_class=3, size=32, seed=5
    )


def _evaluate(*args):
    result = invoke("evaluate", *args, "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    return result.output


def test_ensemble_on_another_store(tiny_folds, other_store, tmp_path):
    run, store = tiny_folds
    out = tmp_path / "ens"
    printed = _evaluate("--model", run, "--query", other_store, "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    combined = metrics["combined"]
    assert combined["kind"] == "ensemble" and combined["folds"] == [0, 1]
    assert combined["n_query"] == 27 and combined["n_reference"] == 54  # every training galaxy
    assert [f["n_reference"] for f in metrics["folds"]] == [27, 27]  # each fold: its training rows
    cal = combined["calibration"]
    for part in ("before", "after"):
        assert 0 <= cal[part]["ece"] <= 1 and 0 <= cal[part]["brier"] <= 2
    assert cal["after"]["accuracy"] == pytest.approx(combined["classification"]["accuracy"])
    assert cal["temperatures"] == [f["temperature"] for f in metrics["folds"]]
    assert 0.5 <= combined["uncertainty"]["mean_agreement"] <= 1.0
    assert {"precision_at_1", "map_at_r"} <= set(combined["retrieval"])
    mistakes = combined["mistakes"]
    assert mistakes and all(m["true"] != m["predicted"] for m in mistakes)
    assert all(m["objid"].startswith("SYN") for m in mistakes)
    assert [m["probability"] for m in mistakes] == sorted((m["probability"] for m in mistakes), reverse=True)
    for name in ("calibration.png", "errors.png", "confusion.png"):
        with Image.open(out / name) as image:
            assert image.size[0] > 300, name
    report = (out / "report.md").read_text()
    assert "Ensemble of 2 folds" in report and "27 galaxies per fold" in report
    assert "| after scaling |" in report and "`errors.png`" in report
    assert f"| {mistakes[0]['row']} | {mistakes[0]['objid']} |" in report
    assert "ECE" in printed and "ensemble" in printed


def test_own_store_pools_out_of_fold_predictions_and_recomputes_ece(tiny_folds, tmp_path):
    run, store = tiny_folds
    out = tmp_path / "oof"
    _evaluate("--model", run, "--query", store, "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    combined = metrics["combined"]
    assert combined["kind"] == "out-of-fold" and combined["n_query"] == 54
    per_fold = [f["calibration"]["after"] for f in metrics["folds"]]
    assert sum(p["n"] for p in per_fold) == 54
    # The pooled Brier score is the row-weighted mean of the folds' scores.
    expected = sum(p["brier"] * p["n"] for p in per_fold) / 54
    assert combined["calibration"]["after"]["brier"] == pytest.approx(expected)


def test_single_fold_report_has_no_zero_spread(tiny_folds, other_store, tmp_path):
    run, _ = tiny_folds
    out = tmp_path / "one"
    printed = _evaluate("--model", run, "--query", other_store, "--fold", 1, "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [f["fold"] for f in metrics["folds"]] == [1] and metrics["combined"]["kind"] == "single fold"
    report = (out / "report.md").read_text()
    assert "±" not in report and "±" not in printed
    assert "27 galaxies per fold" in report and "| after scaling |" in report


def test_report_calibration_numbers_follow_the_arrays():
    """ECE/Brier in a report are the functions' values (no rounding or swapping on the way)."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=40)
    labels = rng.integers(0, 3, size=40)
    from galcat.evaluate.combined import calibration_block

    block = calibration_block(probs, probs**2 / (probs**2).sum(1, keepdims=True), labels, [1.5])
    assert block["before"]["ece"] == pytest.approx(expected_calibration_error(probs, labels))
    assert block["before"]["brier"] == pytest.approx(brier_score(probs, labels))
    metrics = {
        "model": "m", "query": "q", "reference": "r", "scheme": "s", "class_names": ["a", "b", "c"],
        "folds": [{"fold": 0, "n_query": 40, "n_reference": 10, "temperature": 1.5}], "summary": {},
        "combined": {"kind": "single fold", "folds": [0], "n_query": 40, "calibration": block},
    }  # fmt: skip
    text = report_markdown(metrics)
    assert f"| before scaling | {block['before']['ece']:.4f} | {block['before']['brier']:.4f} |" in text
    assert "fold 0: 1.500" in text
