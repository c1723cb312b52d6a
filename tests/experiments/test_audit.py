"""galcat audit: label sets compared on the same galaxies (synthetic noise, real RSA x EFIGI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table
from helpers.cli import invoke
from sklearn.metrics import cohen_kappa_score

from galcat.experiments.audit import AuditConfig, audit, compare_labels
from galcat.schemes import HUBBLE9
from galcat.synth import make_synthetic_store
from galcat.synth.noise import flip_labels


def test_compare_labels_confusion_kappa_and_per_class():
    a = np.array([0, 0, 1, 1, 2, 2, 2, -1])
    b = np.array([0, 1, 1, 1, 2, 0, 2, 0])
    res = compare_labels(a, b, ["x", "y", "z"], bootstrap=200, seed=1)
    assert res["n_pairs"] == 7 and res["n_unlabelled"] == 1
    assert res["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]  # rows A, columns B
    assert res["agreement"] == pytest.approx(5 / 7)
    assert res["kappa"] == pytest.approx(cohen_kappa_score(a[:7], b[:7]))
    assert res["per_class"]["x"]["b_agrees_given_a"] == pytest.approx(0.5)
    assert res["per_class"]["y"]["a_agrees_given_b"] == pytest.approx(2 / 3)
    lo, hi = res["kappa_ci"]
    assert lo <= res["kappa"] <= hi


def test_flip_labels_changes_class_at_the_rate():
    labels = np.repeat(np.array(HUBBLE9, dtype=object), 500)
    noisy, flipped = flip_labels(labels, 0.25, HUBBLE9, seed=3)
    assert abs(flipped.mean() - 0.25) < 0.03
    assert np.all((noisy != labels) == flipped)  # a flip always lands on another class
    assert set(noisy) == set(HUBBLE9)


def test_audit_recovers_injected_noise_rate(tmp_path):
    expert = make_synthetic_store(
        tmp_path / "expert.h5", HUBBLE9, n_per_class=60, size=12, seed=0, votes=False
    )
    rate = 0.3
    result = invoke("synth", "noise", expert, "--rate", rate, "--seed", 5, "--out", tmp_path / "crowd.h5")
    assert result.exit_code == 0, result.output
    result = invoke("audit", expert, tmp_path / "crowd.h5", "--names", "expert,crowd",
                    "--bootstrap", 200, "--out", tmp_path / "audit")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert report["n_pairs"] == 540 and report["match"]["by"] == "sky"
    assert abs(report["disagreement"] - rate) <= 0.05
    # uniform flips to the 8 other classes: expected kappa = 1 - rate * 9/8 for balanced classes
    assert report["kappa"] == pytest.approx(1 - rate * 9 / 8, abs=0.06)
    assert report["kappa_ci"][0] < report["kappa"] < report["kappa_ci"][1]
    for name in ("audit.md", "audit.png", "audit_config.json"):
        assert (tmp_path / "audit" / name).stat().st_size > 0
    text = (tmp_path / "audit" / "audit.md").read_text()
    assert "Class shares (the paper's Table 1 form)" in text and "| expert (all) | 540 |" in text


def test_one_crossmatched_table_and_collapse_to_hubble9(tmp_path):
    table = Table()
    table["hubble11_a"] = ["E0", "E7", "Sa", "Sb", "E3-5"]
    table["hubble9_b"] = MaskedColumn(["E", "E", "Sa", "Sc", "E"], mask=[False, False, False, False, True])
    path = tmp_path / "matched.ecsv"
    table.write(path)
    res = audit(AuditConfig(a=str(path), out=str(tmp_path / "a"), bootstrap=0))
    assert res["n_pairs"] == 4 and res["n_unlabelled"] == 1
    assert res["agreement"] == pytest.approx(0.75)


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.fits", "other.fits"], "missing.fits: file not found"),
        (["t.ecsv", "t.ecsv", "--scheme", "hubble5"], "hubble5"),
        (["t.ecsv", "--names", "onlyone"], "--names"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    Table({"objid": ["a"], "hubble9_a": ["E"], "hubble9_b": ["E"]}).write("t.ecsv")
    result = invoke("audit", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_rsa_vs_efigi_real_labels(shared_data, tmp_path):
    """RSA (paper labels) x EFIGI, offline positions: efigi_rule_v1 agrees on about half."""
    openngc = f"openngc:{shared_data / 'openngc'}"
    rsa, efigi = tmp_path / "rsa.fits", tmp_path / "efigi.fits"
    result = invoke("catalogue", "rsa", "--source", shared_data / "rsa" / "usethis_rsa2.csv",
                    "--labels", "paper", "--resolver", openngc, "--out", rsa)  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke("catalogue", "efigi", "--source", shared_data / "efigi" / "EFIGI_attributes.txt",
                    "--resolver", openngc, "--out", efigi)  # fmt: skip
    assert result.exit_code == 0, result.output
    res = audit(AuditConfig(a=str(rsa), b=str(efigi), out=str(tmp_path / "audit"), bootstrap=200))
    assert res["match"]["by"] == "both" and 420 <= res["n_pairs"] <= 440
    assert 0.45 <= res["agreement"] <= 0.65 and 0.35 <= res["kappa"] <= 0.6
    shares = res["shares"]["usethis_rsa2 (all)" if "usethis_rsa2 (all)" in res["shares"] else "rsa (all)"]
    # the paper's Table 1, RSA row: E .14, Irr .03, S0 .14 ... Sc .22
    assert np.allclose(shares["shares"], [0.14, 0.03, 0.14, 0.05, 0.08, 0.08, 0.12, 0.14, 0.22], atol=0.006)
