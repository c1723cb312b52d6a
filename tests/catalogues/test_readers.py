"""Catalogue readers on the real files in shared data: EFIGI, RSA (+ OpenNGC), GZ2, labelled folders."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcat.catalogues import class_counts, compact_name, read_catalogue, vote_columns
from galcat.schemes import HUBBLE11

EFIGI_RULE_COUNTS = {"E": 358, "Irr": 511, "S0": 733, "SBa": 204, "SBb": 341, "SBc": 282, "Sa": 272,
                     "Sb": 648, "Sc": 1109}  # fmt: skip
EFIGI_PAPER_COUNTS = {"E": 248, "Irr": 329, "S0": 190, "SBa": 188, "SBb": 310, "SBc": 191, "Sa": 333,
                      "Sb": 557, "Sc": 776}  # fmt: skip
RSA2_COUNTS = {"E0": 80, "E3-5": 70, "E7": 24, "Irr": 41, "S0": 174, "SBa": 65, "SBb": 96, "SBc": 101,
               "Sa": 147, "Sb": 179, "Sc": 272}  # fmt: skip


def _standard(table, catalogue):
    assert table.colnames[:6] == ["objid", "ra", "dec", "hubble9", "hubble11", "label_reason"]
    assert table["ra"].unit == u.deg and table["dec"].unit == u.deg
    assert (
        table["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
        and table["dec"].meta["ucd"] == "pos.eq.dec;meta.main"
    )
    assert table["ra"].dtype == np.float64 and table["objid"].dtype.kind == "U"
    assert len(set(table["objid"])) == len(table)
    for key in ("catalogue", "citation", "label_rule", "label_params", "galcat_version", "label_schemes"):
        assert key in table.meta, key
    assert table.meta["catalogue"] == catalogue and table.meta["image_key"] == "objid"
    labelled = ~np.ma.getmaskarray(table["hubble9"])
    assert all(r == "" for r in table["label_reason"][labelled])


@pytest.fixture(scope="module")
def efigi(shared_data):
    return read_catalogue("efigi", shared_data / "efigi" / "EFIGI_attributes.txt")


def test_efigi_rule_counts(efigi):
    _standard(efigi, "efigi")
    assert len(efigi) == 4458 and efigi.meta["n_masked"] == 0
    assert class_counts(efigi, "hubble9") == EFIGI_RULE_COUNTS
    assert efigi.meta["label_rule"] == "efigi_rule_v1" and efigi.meta["label_params"]["bar_threshold"] == 0.5
    assert efigi["objid"][0] == "PGC0000212" and efigi["pgc"][0] == 212
    assert np.ma.getmaskarray(efigi["ra"]).all()  # the attribute file has no positions
    assert np.ma.getmaskarray(efigi["hubble11"]).all() and list(efigi.meta["label_schemes"]) == ["hubble9"]
    assert {"T", "Bar_Length", "Multiplicity_sup"} <= set(efigi.colnames)  # every source column kept


def test_efigi_rule_agrees_with_paper_labels_on_53_7_percent(efigi, shared_data):
    """efigi_rule_v1 reproduces 1676 of the 3122 paper labels (53.7 %)."""
    paper = read_catalogue(
        "efigi",
        shared_data / "efigi" / "EFIGI_attributes.txt",
        labels="paper",
        paper_labels=shared_data / "efigi" / "efigi_model.csv",
    )
    assert class_counts(paper, "hubble9") == EFIGI_PAPER_COUNTS and paper.meta["n_masked"] == 4458 - 3122
    assert paper.meta["label_rule"] == "paper:efigi_model.csv"
    both = ~np.ma.getmaskarray(paper["hubble9"])
    agree = int((efigi["hubble9"][both] == paper["hubble9"][both]).sum())
    assert agree == 1676
    assert agree / both.sum() == pytest.approx(0.537, abs=0.002)
    assert set(paper["label_reason"][~both]) == {"not in paper table efigi_model.csv"}


@pytest.fixture(scope="module")
def rsa(shared_data):
    return read_catalogue(
        "rsa",
        shared_data / "rsa" / "usethis_rsa2.csv",
        labels="paper",
        resolver=f"openngc:{shared_data / 'openngc'}",
    )


def test_rsa_names_resolve_offline_through_openngc(rsa, shared_data):
    import pandas as pd

    _standard(rsa, "rsa")
    assert len(rsa) == 1249 and rsa.meta["n_unresolved"] == 0
    assert not np.ma.getmaskarray(rsa["ra"]).any() and not np.ma.getmaskarray(rsa["dec"]).any()
    assert class_counts(rsa, "hubble11") == RSA2_COUNTS
    assert class_counts(rsa, "hubble9")["E"] == 80 + 70 + 24
    assert rsa.meta["label_rule"] == "paper:usethis_rsa2.csv"
    derived = pd.read_csv(shared_data / "openngc" / "DERIVED_rsa_openngc_efigi_crossmatch.csv")
    derived = derived.drop_duplicates("Galaxy_ID").set_index("Galaxy_ID").loc[list(rsa["objid"])]
    truth = SkyCoord(derived["RA"], derived["Dec"], unit=(u.hourangle, u.deg))
    assert SkyCoord(rsa["ra"], rsa["dec"]).separation(truth).max() < 1 * u.arcsec
    assert int((~np.ma.getmaskarray(rsa["pgc"])).sum()) >= 1219


def test_rsa_rule_on_a_type_column(shared_data, tmp_path):
    """rsa_rule_v1 over OpenNGC's HyperLeda types; unparseable 'S?' and blanks are masked and counted."""
    src = (shared_data / "openngc" / "DERIVED_rsa_openngc_efigi_crossmatch.csv").read_text().splitlines()
    seen, rows = set(), [src[0]]
    for line in src[1:]:  # the file repeats IC0764 (inherited from usethis_rsa.csv)
        if line.split(",")[0] not in seen:
            seen.add(line.split(",")[0])
            rows.append(line)
    path = tmp_path / "rsa_types.csv"
    path.write_text("\n".join(rows) + "\n")
    table = read_catalogue("rsa", path, label_column="OpenNGC_Hubble")
    masked = np.ma.getmaskarray(table["hubble11"])
    assert len(table) == 1249 and table.meta["n_masked"] == int(masked.sum()) > 0
    assert all(r for r in table["label_reason"][masked])
    assert sum("S?" in r for r in table["label_reason"]) == 4
    assert set(table["hubble11"][~masked]) <= set(HUBBLE11)
    assert table.meta["label_rule"] == "rsa_rule_v1" and table.meta["label_params"]["bc_to"] == "b"


def test_compact_names():
    assert compact_name("NGC 221") == "NGC0221" and compact_name("IC 749") == "IC0749"
    assert compact_name("NGC4321") == "NGC4321" and compact_name("ngc 5194a") == "NGC5194A"


def test_gz2_stripe82_votes_without_gz2_class(shared_data):
    table = read_catalogue("gz2", shared_data / "gz2" / "tables" / "table5.csv.gz")
    _standard(table, "gz2")
    assert len(table) == 19761 and table.meta["n_masked"] == 19761
    assert set(table["label_reason"]) == {"no gz2_class column in the source"}
    votes = table.meta["vote_columns"]
    assert len(votes) == 37 and votes[0] == "t01_smooth_or_features_a01_smooth_fraction"
    assert [int(v[1:3]) for v in votes] == sorted(int(v[1:3]) for v in votes)
    assert "t08_odd_feature_a38_dust_lane_fraction" in votes and votes[-1].startswith("t11_")
    assert table["objid"][0] == "8647474690312307154" and np.isfinite(table["ra"]).all()
    assert "reconstructed" in table.meta["label_rule_note"]


def test_gz2_hart16_layout_and_url(shared_data, tmp_path, httpserver):
    """Hart16 column names (dr7objid, gz2_class) on real Stripe 82 rows with real class strings."""
    lines = (
        gzip.decompress((shared_data / "gz2" / "tables" / "table5.csv.gz").read_bytes()).decode().splitlines()
    )
    header = lines[0].replace("objid", "dr7objid", 1) + ",gz2_class"
    classes = ["Ei", "Er", "Ser", "Sc?t", "Ec", "SBc2m", "Sb2m(r)", "A", "Sc2m(i)", "Sd"]
    body = [f"{line},{classes[i]}" for i, line in enumerate(lines[1:11])]
    path = tmp_path / "hart16.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([header, *body]) + "\n").encode()))
    httpserver.expect_request("/gz2_hart16.csv.gz").respond_with_data(path.read_bytes())
    for source in (path, httpserver.url_for("/gz2_hart16.csv.gz")):
        table = read_catalogue("gz2", source)
        assert list(table["hubble11"].filled("--")) == [
            "E3-5", "E0", "S0", "Sc", "E7", "SBc", "Sb", "--", "Irr", "Sc"]  # fmt: skip
        assert (
            table["hubble9"][0] == "E"
            and table.meta["n_masked"] == 1
            and len(table.meta["vote_columns"]) == 37
        )
        assert table.meta["label_rule"] == "gz2_rule_v1" and "dr7objid" in table.colnames
    again = read_catalogue("gz2", httpserver.url_for("/gz2_hart16.csv.gz"))
    assert len(httpserver.log) == 1 and len(again) == 10  # the second read came from the cache


def test_vote_columns_order():
    cols = ["t02_edgeon_a04_yes_fraction", "t01_smooth_or_features_a01_smooth_weighted_fraction",
            "t01_smooth_or_features_a01_smooth_fraction", "ra"]  # fmt: skip
    assert vote_columns(cols) == ["t01_smooth_or_features_a01_smooth_fraction", "t02_edgeon_a04_yes_fraction"]


def test_folder_gz1_and_kaggle(shared_data):
    gz1 = read_catalogue("folder", shared_data / "gz1" / "labels.csv")
    assert len(gz1) == 5313 and gz1.meta["n_missing_images"] == 0 and gz1.meta["n_masked"] == 0
    assert gz1.meta["label_schemes"] == {"class_name": sorted(set(gz1["class_name"]))}
    assert (
        class_counts(gz1, "class_name")["elliptical"] > 0
        and len(gz1.meta["label_schemes"]["class_name"]) == 6
    )
    assert gz1["objid"][0] == "587722952767439450" and gz1["image_file"][0] == "587722952767439450.jpeg"
    assert np.ma.getmaskarray(gz1["ra"]).all()
    kaggle = read_catalogue("folder", shared_data / "gz2" / "kaggle" / "labels.csv")
    assert len(kaggle) == 4048 and kaggle.meta["label_schemes"] == {"label": ["non_spiral", "spiral"]}


def test_folder_keeps_rows_without_images_and_matches_names_in_any_case(shared_data, tmp_path):
    lines = (shared_data / "gz1" / "labels.csv").read_text().splitlines()[:4]
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join([*lines, "gal_one,0,elliptical", "2,1,spiral_cw"]) + "\n")
    images = tmp_path / "images"
    images.mkdir()
    for line in lines[1:]:
        name = line.split(",")[0] + ".jpeg"
        (images / name.upper()).write_bytes((shared_data / "gz1" / "images" / name).read_bytes())
    (images / "Gal_One.JPG").write_bytes((shared_data / "gz1" / "images" / name).read_bytes())
    table = read_catalogue("folder", csv, images=images, label_column="class_name")
    assert len(table) == 5 and table.meta["n_missing_images"] == 1
    assert list(table["image_file"][3:4]) == ["Gal_One.JPG"] and table["image_file"].mask.tolist()[-1]


def test_efigi_positions_through_a_resolver(shared_data):
    """PGC names resolved offline via OpenNGC identifiers; unresolved rows stay masked, not NaN."""
    table = read_catalogue(
        "efigi", shared_data / "efigi" / "EFIGI_attributes.txt", resolver=f"openngc:{shared_data / 'openngc'}"
    )
    found = ~np.ma.getmaskarray(table["ra"])
    assert 1500 < found.sum() < 4458 and np.isfinite(table["ra"][found]).all()
    assert (np.ma.getmaskarray(table["dec"]) == ~found).all()
