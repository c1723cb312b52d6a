"""`galcat embed` on a 2-fold run: fold-averaged, temperature-scaled columns that astronomers'
tools read (UCDs, descriptions, fitsverify 0 warnings, STILTS)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.votable.ucd import check_ucd
from helpers.cli import invoke

from galcat.model.calibration import softmax
from galcat.model.ensemble import combine
from galcat.schemes import HUBBLE9
from galcat.tables import read_table

UNCERTAINTY = ["pred_entropy", "pred_agreement"] + [f"p_{c}_std" for c in ("E", "S0", "SBa", "Irr")]


@pytest.fixture(scope="module")
def embedded(tiny_folds, tmp_path_factory):
    run, store = tiny_folds
    out = tmp_path_factory.mktemp("ensemble-embed") / "cat.fits"
    result = invoke("embed", "--model", run, "--store", store, "--per-fold", "--out", out)
    assert result.exit_code == 0, result.output
    return out, read_table(out)


def test_every_fold_is_calibrated_on_its_validation_rows_and_saved(tiny_folds, embedded):
    run, _ = tiny_folds
    for k in (0, 1):
        saved = json.loads((run / f"fold{k}" / "calibration.json").read_text())
        assert 0.05 <= saved["temperature"] <= 20.0
        assert saved["n_rows"] == 27  # half of the 54 galaxies is each fold's validation split
        assert saved["nll_after"] <= saved["nll_before"] + 1e-9
    _, table = embedded
    meta = {key.lower(): value for key, value in table.meta.items()}  # FITS keywords are upper case
    temps = [float(t) for t in meta["embed_temperatures"].split(",")]
    assert temps == pytest.approx(
        [json.loads((run / f"fold{k}" / "calibration.json").read_text())["temperature"] for k in (0, 1)],
        abs=1e-4,
    )


def test_columns_are_the_fold_average_with_spread_entropy_and_agreement(embedded):
    _, table = embedded
    classes = list(HUBBLE9)
    p = np.stack([np.asarray(table[f"p_{c.replace('/', '_')}"]) for c in classes], axis=1)
    folds = np.stack([np.asarray(table["p_fold0"]), np.asarray(table["p_fold1"])])
    mean, std, entropy, agreement = combine(folds)
    np.testing.assert_allclose(p, mean, atol=1e-6)
    np.testing.assert_allclose(np.asarray(table["p_E_std"]), std[:, 0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(table["pred_entropy"]), entropy, atol=1e-6)
    np.testing.assert_allclose(np.asarray(table["pred_agreement"]), agreement, atol=1e-6)
    # two folds: both, one or neither (the mean's top class can be neither fold's top) agree
    assert set(np.unique(np.asarray(table["pred_agreement"]))) <= {0.0, 0.5, 1.0}
    best = np.asarray(classes)[mean.argmax(axis=1)]
    assert list(table["pred_hubble9"]) == list(best)
    fold0 = np.asarray(classes)[folds[0].argmax(axis=1)]
    assert list(table["pred_hubble9_fold0"]) == list(fold0)
    norms = np.linalg.norm(np.asarray(table["embedding"]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_fold_option_selects_one_fold(tiny_folds, embedded, tmp_path):
    run, store = tiny_folds
    _, ensemble = embedded
    out = tmp_path / "fold1.ecsv"
    result = invoke("embed", "--model", run, "--store", store, "--fold", 1, "--out", out)
    assert result.exit_code == 0, result.output
    single = read_table(out)
    np.testing.assert_allclose(np.asarray(single["p_E"]), np.asarray(ensemble["p_fold1"])[:, 0], atol=1e-5)
    assert "pred_entropy" in single.colnames
    assert not any(c.endswith("_std") for c in single.colnames) and "pred_agreement" not in single.colnames
    uncal = tmp_path / "raw.ecsv"
    assert (
        invoke(
            "embed", "--model", run, "--store", store, "--fold", 1, "--no-calibrate", "--out", uncal
        ).exit_code
        == 0
    )
    raw = read_table(uncal)
    t = json.loads((run / "fold1" / "calibration.json").read_text())["temperature"]
    p_raw = np.stack(
        [np.asarray(raw[n]) for n in raw.colnames if n.startswith("p_") and not n.endswith("_std")], 1
    )
    logits = np.log(np.clip(p_raw, 1e-30, None))  # softmax is shift-invariant, so log p are logits
    p_single = np.stack(
        [np.asarray(single[n]) for n in raw.colnames if n.startswith("p_") and not n.endswith("_std")], 1
    )
    np.testing.assert_allclose(softmax(logits, t), p_single, atol=2e-4)
    bad = invoke("embed", "--model", run, "--store", store, "--fold", 2, "--out", tmp_path / "x.fits")
    assert bad.exit_code == 2 and "--fold 2" in bad.output


def test_predict_turns_option_predicts_from_one_view(tiny_folds, tmp_path):
    from galcat.model import load_run
    from galcat.model.inference import predict

    run, store = tiny_folds
    outs = {}
    for turns in (1, 4):
        outs[turns] = tmp_path / f"turns{turns}.ecsv"
        args = ("--fold", 1, "--no-calibrate", "--predict-turns", turns, "--out", outs[turns])
        result = invoke("embed", "--model", run, "--store", store, *args)
        assert result.exit_code == 0, result.output
    one, four = read_table(outs[1]), read_table(outs[4])
    p_cols = [n for n in one.colnames if n.startswith("p_")]
    fold = load_run(run).folds[1]
    assert fold.model.rotations == 4  # the run's default: --predict-turns 1 overrides it
    fold.model.rotations = 1
    expected = softmax(predict(fold.model, store).logits.astype(np.float64))
    np.testing.assert_allclose(np.stack([np.asarray(one[n]) for n in p_cols], 1), expected, atol=1e-5)
    assert not np.allclose(np.asarray(one["embedding"]), np.asarray(four["embedding"]), atol=1e-3)
    bad = invoke("embed", "--model", run, "--store", store, "--predict-turns", 2, "--out", tmp_path / "x.vot")
    assert bad.exit_code == 2 and "--predict-turns must be 1 or 4, got 2" in bad.output


def test_new_columns_carry_ucds_and_descriptions_and_pass_fitsverify_and_stilts(embedded, require_tool):
    out, table = embedded
    for name in UNCERTAINTY + ["pred_hubble9_fold1", "pred_prob_fold1", "p_fold1"]:
        ucd = table[name].meta.get("ucd")
        assert ucd and check_ucd(ucd, check_controlled_vocabulary=True), (name, ucd)
        assert table[name].description, name
    with fits.open(out) as hdul:
        header = hdul[1].header
        ucds = {header[f"TTYPE{i}"]: header.get(f"TUCD{i}") for i in range(1, header["TFIELDS"] + 1)}
    assert ucds["p_E_std"] == "stat.stdev;stat.probability" and ucds["pred_agreement"]
    fitsverify, stilts = require_tool("fitsverify"), require_tool("stilts")
    check = subprocess.run([fitsverify, "-q", str(out)], capture_output=True, text=True, timeout=60)
    assert check.stdout.startswith("verification OK"), check.stdout  # 0 warnings, 0 errors
    meta = subprocess.run(
        [stilts, "tpipe", f"in={out}", "cmd=meta Name UCD Description", "ofmt=csv"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    seen = {line.split(",", 1)[0]: line for line in meta.splitlines()[1:]}
    for name in UNCERTAINTY:
        assert table[name].meta["ucd"] in seen[name], seen.get(name)
    stats = subprocess.run(
        [stilts, "tpipe", f"in={out}", "cmd=keepcols 'pred_agreement pred_entropy'", "omode=stats"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "pred_agreement" in stats and str(len(table)) in stats


def test_a_run_whose_store_is_gone_is_used_uncalibrated_with_a_notice(tiny_folds, tmp_path, capsys):
    import shutil

    from galcat.model import load_run

    run, _ = tiny_folds
    moved = tmp_path / "run"
    shutil.copytree(run, moved, ignore=shutil.ignore_patterns("calibration.json"))
    config = json.loads((moved / "config.json").read_text())
    config["store"] = str(tmp_path / "gone.h5")
    (moved / "config.json").write_text(json.dumps(config))
    loaded = load_run(moved)
    assert loaded.predictor().calibrations == [None, None]
    assert "gone.h5" in capsys.readouterr().err and not list(moved.glob("fold*/calibration.json"))
