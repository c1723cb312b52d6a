"""Offline resolution through the real OpenNGC database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcat.coords import get_resolver
from galcat.errors import GalcatError


@pytest.fixture(scope="module")
def openngc(shared_data):
    return get_resolver(f"openngc:{shared_data / 'openngc'}")


def _sky(table):
    return SkyCoord(
        np.ma.filled(table["ra"].data, np.nan) * u.deg, np.ma.filled(table["dec"].data, np.nan) * u.deg
    )


def test_every_rsa_name_resolves_offline(openngc, shared_data):
    names = pd.read_csv(shared_data / "rsa" / "usethis_rsa2.csv")["Galaxy_ID"].tolist()
    result = openngc.resolve(names)
    assert len(names) == 1249 and len(result) == 1249
    assert list(result["name"]) == names  # order and spelling kept
    assert result["ra"].mask.sum() == 0 and result["dec"].mask.sum() == 0
    assert set(result["source"]) == {"openngc"}
    with_pgc = int((~result["pgc"].mask).sum())
    print(f"RSA names resolved: {len(result)}/1249, with a PGC id: {with_pgc}")
    assert with_pgc >= 1219  # 1219 via OpenNGC's direct PGC entries; following 'Dup' rows adds more
    assert result["ra"].unit == u.deg and result["ra"].meta["ucd"] == "pos.eq.ra;meta.main"


def test_ngc4321_position_and_aliases(openngc):
    result = openngc.resolve(["NGC4321", "NGC 4321", "M 100", "PGC 40153", "UGC 7450"])
    target = SkyCoord(185.7288 * u.deg, 15.8224 * u.deg)
    assert np.all(_sky(result).separation(target).arcsec < 3.0)
    assert list(result["pgc"]) == [40153] * 5
    assert set(result["main_id"]) == {"NGC4321"}


def test_dup_rows_follow_their_master_and_nonexistent_objects_stay_unresolved(openngc):
    result = openngc.resolve(["IC0011", "NGC0281", "IC1064", "NGC 99999"])
    # IC0011 is an OpenNGC 'Dup' of NGC0281: same object, same position
    assert result["main_id"][0] == "NGC0281" == result["main_id"][1]
    assert _sky(result[:1]).separation(_sky(result[1:2]))[0].arcsec == 0.0
    assert result["ra"].mask[2] and result["ra"].mask[3]  # 'NonEx' and unknown
    assert result["pgc"].mask[2] and result["source"][3] == ""


def test_name_to_position_truth_from_galaxy_zoo_mergers(openngc, shared_data):
    info = pd.read_csv(shared_data / "sdss" / "mergers" / "target_info.txt", sep="\t")
    names, truth = [], []
    for _, row in info.iterrows():
        pri = [n.strip() for n in str(row["PRI_NAMES"]).split(",")]
        sec = {n.strip() for n in str(row["SEC_NAMES"]).split(",")}
        for name in pri:  # primary galaxies only, and only names that are not shared by the pair
            if name.startswith(("NGC", "IC")) and name not in sec:
                names.append(name)
                truth.append((row["PRI_RA_DEG"], row["PRI_DEC_DEG"]))
    truth = np.array(truth)
    result = openngc.resolve(names)
    assert len(names) >= 15 and not result["ra"].mask.any()
    sep = _sky(result).separation(SkyCoord(truth[:, 0] * u.deg, truth[:, 1] * u.deg)).arcsec
    print(f'merger primaries: {len(names)} names, median {np.median(sep):.2f}", max {sep.max():.2f}"')
    assert np.median(sep) < 2.0
    assert np.mean(sep < 3.0) >= 0.75
    assert sep.max() < 10.0  # SDSS photometric centre of a disturbed merger vs catalogue centre


def test_bad_openngc_inputs(tmp_path):
    with pytest.raises(GalcatError, match="not found"):
        get_resolver(f"openngc:{tmp_path}")
    bad = tmp_path / "NGC.csv"
    bad.write_text("Name,Type,RA,Dec\nNGC0001,G,00:07:15.84,+27:42:29.1\n")
    with pytest.raises(GalcatError, match="NGC.csv, column 'Name'.*';'-separated"):
        get_resolver(f"openngc:{bad}")
    with pytest.raises(GalcatError, match="needs a path"):
        get_resolver("openngc")
    with pytest.raises(GalcatError, match="unknown resolver"):
        get_resolver("ned")


def test_empty_name_is_an_error(openngc):
    with pytest.raises(GalcatError, match="empty object name"):
        openngc.resolve(["NGC4321", "  "])
    assert len(openngc.resolve([])) == 0
