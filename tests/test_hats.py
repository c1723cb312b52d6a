"""HATS catalogues: galcat tables round-trip through lsdb, and lsdb's cross-match equals astropy's."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, Table
from helpers.cli import invoke

from galcat.errors import GalcatError
from galcat.hats import crossmatch_hats, is_hats, open_hats
from galcat.tables import read_table, write_table

pytest.importorskip("lsdb", reason="HATS support is the optional 'hats' extra")


def _sky(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def _catalogue(n: int = 2000) -> Table:
    ra, dec = _sky(n)
    rng = np.random.default_rng(1)
    t = Table()
    t["objid"] = [f"G{i:05d}" for i in range(n)]
    t["ra"], t["dec"] = ra * u.deg, dec * u.deg
    t["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    t["pgc"] = MaskedColumn(np.arange(n), mask=np.arange(n) % 7 == 0)
    t["pred_hubble9"] = MaskedColumn(rng.choice(["E", "Sa", "Sc"], n), mask=np.arange(n) % 5 == 0)
    t["embedding"] = rng.normal(size=(n, 4)).astype("f4")
    t["pred_prob"] = MaskedColumn(rng.random(n).astype("f4"), mask=np.arange(n) % 3 == 0)
    t["pred_prob"].description = "Probability of the predicted class"
    t["in_footprint"] = rng.random(n) < 0.5
    t.meta.update(catalogue="synthetic", label_schemes={"hubble9": ["E", "Sa", "Sc"]})
    return t


def test_a_table_round_trips_through_hats_with_masks_units_ucds_vectors_and_meta(tmp_path):
    table = _catalogue()
    path = write_table(table, tmp_path / "pred.hats")
    assert is_hats(path) and len(open_hats(path).compute(progress_bar=False)) == len(table)
    back = read_table(path)
    back = back[np.argsort(back["objid"])]
    for name in table.colnames:
        assert back[name].dtype == table[name].dtype, name
        np.testing.assert_array_equal(np.ma.getmaskarray(back[name]), np.ma.getmaskarray(table[name]), name)
        np.testing.assert_array_equal(np.ma.filled(back[name], 0), np.ma.filled(table[name], 0), name)
    assert back["ra"].unit == u.deg and back["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert back["pred_prob"].description == "Probability of the predicted class"
    assert back.meta["label_schemes"] == {"hubble9": ["E", "Sa", "Sc"]}


def test_rows_without_a_position_are_refused_not_dropped(tmp_path):
    table = _catalogue(50)
    table["ra"] = MaskedColumn(table["ra"], mask=np.arange(50) == 17)
    with pytest.raises(GalcatError, match="row 18.*1 rows have no position"):  # counted from 1
        write_table(table, tmp_path / "bad.hats")
    assert not (tmp_path / "bad.hats").exists()


def test_lsdb_crossmatch_agrees_with_astropy_on_every_row(tmp_path):
    n = 10_000
    ra, dec = _sky(n, seed=3)
    rng = np.random.default_rng(4)
    here = SkyCoord(ra * u.deg, dec * u.deg)
    moved = here.directional_offset_by(rng.uniform(0, 360, n) * u.deg, 1 * u.arcsec)
    a = Table({"objid": [f"A{i}" for i in range(n)], "ra": ra, "dec": dec})
    b = Table({"objid": [f"B{i}" for i in range(n)], "ra": moved.ra.deg, "dec": moved.dec.deg})
    write_table(a, tmp_path / "a.hats")
    write_table(b, tmp_path / "b.hats")
    matched = crossmatch_hats(tmp_path / "a.hats", tmp_path / "b.hats", 2.0)
    index, sep, _ = here.match_to_catalog_sky(moved)
    expected = dict(zip(a["objid"], np.asarray(b["objid"])[index], strict=True))
    assert len(matched) == int((sep < 2 * u.arcsec).sum()) == n
    assert all(expected[x] == y for x, y in zip(matched["objid_a"], matched["objid_b"], strict=True))
    order = np.argsort([int(x[1:]) for x in matched["objid_a"]])
    np.testing.assert_allclose(matched["sep_arcsec"][order], sep.arcsec, atol=1e-6)


def test_crossmatch_command_reads_hats_on_one_side_and_a_fits_file_on_the_other(tmp_path):
    table = _catalogue(500)
    write_table(table, tmp_path / "pred.hats")
    write_table(table[::2], tmp_path / "half.fits")
    result = invoke("crossmatch", tmp_path / "pred.hats", tmp_path / "half.fits", "--radius", "1arcsec",
                    "--out", tmp_path / "m.ecsv")  # fmt: skip
    assert result.exit_code == 0, result.output
    matched = read_table(tmp_path / "m.ecsv")
    assert len(matched) == 250 and np.all(matched["objid_a"] == matched["objid_b"])
    refused = invoke("crossmatch", tmp_path / "pred.hats", tmp_path / "half.fits", "--by", "id",
                     "--out", tmp_path / "n.ecsv")  # fmt: skip
    assert refused.exit_code == 2 and "--by sky" in refused.output


def test_a_masked_first_value_is_a_masked_string_not_a_pandas_null(tmp_path):
    table = _catalogue(30)
    table["pred_hubble9"].mask[0] = True
    write_table(table, tmp_path / "p.hats")
    matched = crossmatch_hats(tmp_path / "p.hats", table, 1.0)
    write_table(matched, tmp_path / "m.ecsv")  # a pandas NA here cannot be serialised
    back = read_table(tmp_path / "m.ecsv")
    row = list(back["objid_a"]).index(table["objid"][0])
    assert np.ma.getmaskarray(back["pred_hubble9_a"])[row]
