"""galcat reproduce: the paper's grid on tiny synthetic stores, interrupted and resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.table import Table
from helpers.cli import invoke

import galcat.evaluate.api as evaluate_api
from galcat.experiments.paper import paper_values
from galcat.experiments.reproduce import ReproduceConfig, plan, reproduce
from galcat.schemes import HUBBLE9
from galcat.synth import make_synthetic_store
from galcat.synth.noise import make_noisy_store


@pytest.fixture
def stores(tmp_path):
    """An expert catalogue, a crowd copy with 30 % label noise, and a separate test catalogue."""
    expert = make_synthetic_store(tmp_path / "efigi.h5", HUBBLE9, n_per_class=5, size=16, seed=0, votes=False)
    crowd = make_noisy_store(expert, tmp_path / "gz2h.h5", rate=0.3, seed=1)
    test = make_synthetic_store(tmp_path / "rsa.h5", HUBBLE9, n_per_class=2, size=16, seed=7, votes=False)
    return {"efigi": str(expert), "gz2h": str(crowd)}, {"rsa": str(test)}


def _config(stores, out) -> ReproduceConfig:
    train, test = stores
    return ReproduceConfig(
        train=train, test=test, out=str(out), losses=["proxy-nca"], quick=True, lsce_epochs=1,
        image_size=16, batch_size=16, max_steps=2, bootstrap=20,
    )  # fmt: skip


def _mtimes(out: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in out.glob("cells/*/*/cell.json")}


def test_paper_values_are_the_published_tables():
    values = paper_values()
    assert len(values["table3"]) == 3 and len(values["table4"]) == 15
    efigi_pnca = next(r for r in values["table4"] if r["train"] == "efigi" and r["loss"] == "proxy-nca")
    assert (efigi_pnca["miner"], efigi_pnca["map_at_1"], efigi_pnca["map_at_r"]) == ("pair", 29.03, 0.3917)
    assert all(abs(sum(values["table1"][k]) - 1) < 0.02 for k in ("efigi", "rsa", "gz2h"))


def test_plan_skips_class_counts_without_labels(stores, tmp_path):
    cells = plan(_config(stores, tmp_path / "out").resolved())
    assert [c["stage"] for c in cells] == [
        "ls-ce",
        "probe",
        "dml",
        "dml",
    ] * 2  # no hubble11: no 11-class cells
    assert {c["init"] for c in cells if c["stage"] == "dml"} == {
        str(tmp_path / "out" / "cells" / f"{n}-9" / "ls-ce") for n in ("efigi", "gz2h")
    }


def test_grid_interrupted_mid_cell_resumes_and_rerun_is_a_no_op(stores, tmp_path, monkeypatch):
    out = tmp_path / "paper"
    real_evaluate = evaluate_api.evaluate

    def interrupted(cfg):
        if "gz2h-9/dml-proxy-nca-pair" in cfg.model:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after training, before the evaluation
        return real_evaluate(cfg)

    monkeypatch.setattr(evaluate_api, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce(_config(stores, out))
    cut = out / "cells" / "gz2h-9" / "dml-proxy-nca-pair"
    assert (cut / "fold0" / "result.json").exists() and not (cut / "cell.json").exists()
    before = _mtimes(out)
    assert len(before) == 6  # efigi: ls-ce, probe, 2 dml; gz2h: ls-ce, probe
    trained = (cut / "fold0" / "best.pt").stat().st_mtime_ns

    monkeypatch.setattr(evaluate_api, "evaluate", real_evaluate)
    result = reproduce(_config(stores, out))
    assert len(result["cells"]) == 8 and all(c["summary"] for c in result["cells"])
    assert (cut / "fold0" / "best.pt").stat().st_mtime_ns == trained  # finished training is not redone
    after = _mtimes(out)
    assert all(after[p] == t for p, t in before.items())  # finished cells were skipped

    table = Table.read(out / "results.ecsv")
    assert len(table) == 8 and not any(table["accuracy"].mask if hasattr(table["accuracy"], "mask") else [])
    dml = table[table["stage"] == "dml"]
    assert sorted(dml["best_miner"].tolist()) == [False, False, True, True]  # one best miner per loss
    lsce = table[(table["stage"] == "ls-ce") & (table["train"] == "efigi")][0]
    assert lsce["paper_accuracy"] == 29.52 and lsce["paper_map"] == 0.3119
    text = (out / "tables.md").read_text()
    assert "## Table 3" in text and "## Table 4" in text and "| efigi | 9 | proxy-nca |" in text
    assert "| gz2h | 9 | LS-CE | - | - |" in text and "30.33" in text  # the paper's GZ2-H P-NCA MAP@1
    audit = json.loads((out / "audits" / "efigi-vs-gz2h" / "audit.json").read_text())
    assert audit["n_pairs"] == 45 and 0.1 <= audit["disagreement"] <= 0.5
    assert "no shared galaxy" in text  # the test catalogue shares no galaxy with the training ones

    train, test = stores
    args = ["reproduce", *(a for n, p in train.items() for a in ("--train", f"{n}={p}")),
            "--test", f"rsa={test['rsa']}", "--losses", "proxy-nca", "--quick", "--lsce-epochs", 1,
            "--image-size", 16, "--batch-size", 16, "--max-steps", 2, "--bootstrap", 20,
            "--out", out]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "8 cells" in result.output and _mtimes(out) == after

    # a deleted cell report (and audit report) is rebuilt by the rerun; results link only real files
    report = out / "cells" / "efigi-9" / "ls-ce" / "test-rsa" / "report.md"
    report.unlink()
    (out / "audits" / "efigi-vs-gz2h" / "audit.md").unlink()
    result = reproduce(_config(stores, out))
    assert report.is_file() and (out / "audits" / "efigi-vs-gz2h" / "audit.md").is_file()
    assert all((out / c["report"]).is_file() for c in result["cells"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train", "efigi", "--test", "rsa=x.h5"], "write NAME=STORE"),
        (["--train", "efigi=missing.h5", "--test", "rsa=missing.h5"], "missing.h5: store for catalogue"),
        (["--train", "efigi=s.h5", "--test", "rsa=s.h5", "--losses", "arcface"], "--losses arcface"),
        (["--train", "efigi=s.h5", "--test", "rsa=s.h5", "--classes", "7"], "--classes"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    make_synthetic_store(tmp_path / "s.h5", HUBBLE9, n_per_class=1, size=8, votes=False)
    result = invoke("reproduce", *args, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_paper_probe_value_only_for_a_trunk_from_another_task():
    from galcat.experiments.paper import cell_row

    base = {"train": "efigi", "classes": 9, "stage": "probe", "summary": {}}
    other = cell_row({**base, "run": "out/cells/efigi-9/probe-init", "trunk": "runs/gz2-votes"})
    own = cell_row({**base, "run": "out/cells/efigi-9/probe-ls-ce", "trunk": "out/cells/efigi-9/ls-ce"})
    assert other["paper_accuracy"] == 18.33 and own["paper_accuracy"] is None  # DeepGalaxy, Section IV
    dml = cell_row({**base, "stage": "dml", "loss": "normalized-softmax", "miner": "pair", "run": "x"})
    assert (dml["paper_map_at_1"], dml["paper_map"], dml["paper_miner"]) == (30.05, 0.3889, "triplet")
