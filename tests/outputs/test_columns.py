"""Output columns as astronomers' tools see them: astropy, fitsverify, STILTS (no model needed)."""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest
from astropy.io import fits, votable
from astropy.io.votable.ucd import check_ucd
from astropy.table import MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.model.vote import PRIOR
from galcat.outputs.columns import (
    UCDS,
    ReferenceNeighbours,
    annotate_outputs,
    class_column_names,
    sanitize_name,
    vote_labels,
)
from galcat.schemes import HUBBLE11
from galcat.tables import read_table, write_table

N, D, K = 24, 8, 3


@pytest.fixture()
def catalogue() -> Table:
    rng = np.random.default_rng(1)
    table = Table({"objid": [f"G{i:03d}" for i in range(N)], "ra": rng.uniform(0, 360, N)})
    table["dec"] = rng.uniform(-70, 70, N)
    table["hubble11"] = MaskedColumn(
        [HUBBLE11[i % 11] for i in range(N)], mask=[i % 5 == 0 for i in range(N)]
    )
    table["mag_r"] = rng.uniform(12, 17, N)  # a source column that must survive untouched
    table.meta.update({"catalogue": "synthetic", "label_schemes": {"hubble11": list(HUBBLE11)}})
    return table


@pytest.fixture()
def annotated(catalogue) -> Table:
    rng = np.random.default_rng(2)
    knn = ReferenceNeighbours(
        distances=np.sort(rng.uniform(0.1, 1.5, (N, K)), axis=1).astype(np.float32),
        labels=np.array(HUBBLE11)[rng.integers(0, 11, (N, K))],
        objids=np.array([[f"R{i}_{j}" for j in range(K)] for i in range(N)]),
    )
    probs = rng.dirichlet(np.ones(11), N).astype(np.float32)
    return annotate_outputs(catalogue, rng.normal(size=(N, D)), probs, HUBBLE11, "hubble11", knn=knn)


NEW_COLUMNS = ["embedding", "pred_hubble11", "pred_prob", "knn_hubble11", "knn_frac", "knn_dist", "nn_objid",
               "anomaly_score"]  # fmt: skip


def test_sanitised_names_keep_the_class_in_the_description(annotated):
    assert (
        sanitize_name("E3-5") == "E3_5" and sanitize_name("S0/a") == "S0_a" and sanitize_name("1x") == "c1x"
    )
    assert class_column_names(["Sa", "SA", "E3-5", "E3_5"]) == ["p_Sa", "p_SA_2", "p_E3_5", "p_E3_5_2"]
    assert "p_E3_5" in annotated.colnames
    assert "'E3-5'" in annotated["p_E3_5"].description


def test_columns_values_and_order(catalogue, annotated):
    assert list(annotated["objid"]) == list(catalogue["objid"])  # rows keep their order and ids
    assert annotated.colnames[: len(catalogue.colnames)] == catalogue.colnames
    probs = np.stack([annotated[f"p_{sanitize_name(c)}"] for c in HUBBLE11], axis=1)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert list(annotated["pred_hubble11"]) == [HUBBLE11[i] for i in probs.argmax(axis=1)]
    assert np.allclose(annotated["pred_prob"], probs.max(axis=1))
    assert np.allclose(np.linalg.norm(annotated["embedding"], axis=1), 1, atol=1e-5)
    assert annotated["embedding"].dtype == np.float32 and annotated["embedding"].shape == (N, D)
    assert np.all(annotated["anomaly_score"] >= annotated["knn_dist"])
    assert all(oid.startswith(f"R{i}_0") for i, oid in enumerate(annotated["nn_objid"]))


def test_every_new_column_has_a_valid_ucd_and_description(annotated):
    for name in annotated.colnames:
        if name == "mag_r":
            continue
        ucd = annotated[name].meta.get("ucd")
        assert ucd and check_ucd(ucd, check_controlled_vocabulary=True), (name, ucd)
        assert annotated[name].description, name
    for ucd in UCDS.values():
        assert check_ucd(ucd, check_controlled_vocabulary=True), ucd
    assert str(annotated["ra"].unit) == "deg" and annotated["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert str(annotated["dec"].unit) == "deg" and annotated["dec"].meta["ucd"] == "pos.eq.dec;meta.main"


def test_the_neighbour_vote_is_the_models_distance_weighted_rule():
    """knn_<scheme> follows galcat.model.vote: 1/d weights, and ties go to the scheme's first class."""
    labels = np.array([["Sa", "Sb", "Sb", "Sa"], ["E", "E", "Sc", "Sc"], ["S0", "Irr", "Sc", "Sc"]])
    classes = ["E", "S0", "Sa", "Sb", "Sc", "Irr"]
    winners, fractions = vote_labels(labels, np.zeros(labels.shape), classes)  # equal weights
    assert list(winners) == ["Sa", "E", "Sc"]
    assert np.allclose(fractions, 0.5 * (1 - PRIOR) + PRIOR / len(classes))
    winners, _ = vote_labels(labels[:1], np.array([[0.9, 0.1, 0.2, 0.8]]), classes)  # the near Sb win
    assert list(winners) == ["Sb"]


def test_shape_mismatch_is_a_user_error(catalogue):
    with pytest.raises(GalcatError, match="embeddings have shape"):
        annotate_outputs(catalogue, np.zeros((N - 1, D)), None, HUBBLE11, "hubble11")
    with pytest.raises(GalcatError, match="probabilities"):
        annotate_outputs(catalogue, np.zeros((N, D)), np.zeros((N, 3)), HUBBLE11, "hubble11")


def test_fits_and_votable_open_in_astropy_with_units_and_ucds(annotated, tmp_path):
    write_table(annotated, tmp_path / "cat.fits")
    write_table(annotated, tmp_path / "cat.vot")
    with fits.open(tmp_path / "cat.fits") as hdul:  # raw FITS: TUCDn/TUNITn/TCOMMn keywords
        header, names = hdul[1].header, hdul[1].columns.names
        ucds = {header[f"TTYPE{i}"]: header.get(f"TUCD{i}") for i in range(1, len(names) + 1)}
    assert names == annotated.colnames
    assert ucds["ra"] == "pos.eq.ra;meta.main" and ucds["p_E3_5"] == "stat.probability"
    assert hdul[1].columns["ra"].unit == "deg" and hdul[1].columns["embedding"].format == f"{D}E"
    assert votable.validate(str(tmp_path / "cat.vot"), output=None)  # no VOTable violations
    vot = votable.parse_single_table(str(tmp_path / "cat.vot")).to_table()
    assert set(NEW_COLUMNS + ["objid", "ra", "dec"]) <= set(vot.colnames)
    fields = {f.name: f for f in votable.parse_single_table(str(tmp_path / "cat.vot")).fields}
    for name in annotated.colnames:
        if name != "mag_r":
            assert fields[name].ucd == annotated[name].meta["ucd"], name
    assert str(fields["ra"].unit) == "deg" and fields["embedding"].arraysize == str(D)
    assert np.allclose(np.asarray(vot["embedding"]), annotated["embedding"], atol=1e-7)


def test_ecsv_parquet_hdf5_round_trip(annotated, tmp_path):
    for ext in ("ecsv", "parquet", "h5"):
        back = read_table(write_table(annotated, tmp_path / f"cat.{ext}"))
        assert back.colnames == annotated.colnames, ext
        assert np.array_equal(np.asarray(back["embedding"]), np.asarray(annotated["embedding"])), ext
        assert list(back["pred_hubble11"]) == list(annotated["pred_hubble11"]), ext
        if ext == "ecsv":
            for name in annotated.colnames:
                assert back[name].meta.get("ucd") == annotated[name].meta.get("ucd"), name
                assert back[name].description == annotated[name].description, name
            assert str(back["dec"].unit) == "deg"


def test_fitsverify_reports_no_errors(annotated, tmp_path, require_tool):
    exe = require_tool("fitsverify")
    write_table(annotated, tmp_path / "cat.fits")
    result = subprocess.run(
        [exe, "-q", str(tmp_path / "cat.fits")], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("verification OK"), result.stdout  # 0 warnings, 0 errors


def test_stilts_sky_match_finds_positions_by_ucd(catalogue, annotated, tmp_path, require_tool):
    """TOPCAT's engine finds the output's RA/Dec by UCD alone and matches every row to itself."""
    exe = require_tool("stilts")
    write_table(annotated, tmp_path / "out.fits")
    write_table(catalogue, tmp_path / "in.fits")
    ucd_pos = "ucd$pos_eq_ra_ ucd$pos_eq_dec_"
    subprocess.run(
        [exe, "tmatch2", f"in1={tmp_path / 'out.fits'}", f"in2={tmp_path / 'in.fits'}", "matcher=sky",
         "params=1", f"values1={ucd_pos}", "values2=ra dec", "find=best", "join=1and2",
         f"out={tmp_path / 'match.csv'}", "ofmt=csv", "progress=none"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with open(tmp_path / "match.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N
    assert all(r["objid_1"] == r["objid_2"] and float(r["Separation"]) < 1e-6 for r in rows)
    meta = subprocess.run(
        [exe, "tpipe", f"in={tmp_path / 'out.fits'}", "cmd=meta Name UCD Units", "ofmt=csv"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    seen = {r["Name"]: (r["UCD"], r["Units"]) for r in csv.DictReader(meta.stdout.splitlines())}
    assert seen["ra"] == ("pos.eq.ra;meta.main", "deg")
    assert seen["knn_dist"][0] == UCDS["knn_dist"] and seen["embedding"][0] == UCDS["embedding"]
