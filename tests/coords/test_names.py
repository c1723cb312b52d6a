"""Identifier normalisation, PGC parsing, B1950 -> ICRS and sexagesimal parsing."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcat.coords import b1950_to_icrs, normalise_name, parse_pgc, parse_sexagesimal, pgc_name
from galcat.errors import GalcatError


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("NGC 4321", "NGC4321"),
        ("NGC4321", "NGC4321"),
        ("ngc 4321", "NGC4321"),
        ("NGC  4321", "NGC4321"),  # SIMBAD pads with spaces
        ("NGC 221", "NGC0221"),
        ("NGC0221", "NGC0221"),
        ("IC 749", "IC0749"),
        ("IC0749", "IC0749"),
        ("NGC 4676A", "NGC4676A"),
        ("PGC 40153", "PGC0040153"),
        ("PGC0040153", "PGC0040153"),
        ("PGC 040153", "PGC0040153"),
        ("LEDA 40153", "PGC0040153"),
        ("UGC 7450", "UGC07450"),
        ("M 100", "M100"),
        ("M1", "M001"),
        ("Arp 240", "ARP240"),
    ],
)
def test_normalise_name(raw, compact):
    assert normalise_name(raw) == compact


def test_pgc_parser_and_name():
    assert parse_pgc("PGC 040153") == 40153
    assert parse_pgc("PGC0040153") == 40153
    assert parse_pgc("pgc40153") == 40153
    assert parse_pgc(40153) == 40153
    assert parse_pgc(np.int64(7)) == 7
    assert parse_pgc("NGC4321") is None
    assert parse_pgc("") is None
    assert parse_pgc(None) is None
    assert parse_pgc(float("nan")) is None
    assert pgc_name(212) == "PGC0000212"


def test_b1950_galactic_pole_lands_on_its_icrs_position():
    # The galactic north pole is defined in FK4 B1950 as (192.25, +27.4); in ICRS it is
    # (192.85948, +27.12825) (IAU 1958 definition transformed; Hipparcos vol. 1 §1.5.3).
    ra, dec = b1950_to_icrs(192.25, 27.4)
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(192.85948 * u.deg, 27.12825 * u.deg))
    assert sep.arcsec < 1.0
    assert isinstance(ra, float)


def test_b1950_vectorised_and_precesses_by_the_right_amount():
    ra_b = np.array([0.0, 90.0, 185.0, 300.0])
    dec_b = np.array([0.0, 30.0, 16.0, -60.0])
    ra, dec = b1950_to_icrs(ra_b, dec_b)
    assert ra.shape == (4,)
    shift = SkyCoord(ra_b * u.deg, dec_b * u.deg).separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    # 50 years of general precession (50.3"/yr) move a position by at most ~0.7 deg
    assert np.all(shift > 0.1) and np.all(shift < 0.75)
    with pytest.raises(GalcatError, match="differ in length"):
        b1950_to_icrs([1.0, 2.0], [3.0])


def test_parse_sexagesimal_openngc_form_and_fallback():
    ra, dec = parse_sexagesimal(
        ["12:22:54.83", "00:00:00.0", "", "12h22m54.83s"], ["+15:49:18.5", "-00:30:00", "", "+15d49m18.5s"]
    )
    assert ra[0] == pytest.approx(185.7284583, abs=1e-6)
    assert dec[0] == pytest.approx(15.8218056, abs=1e-6)
    assert dec[1] == pytest.approx(-0.5)  # sign on a zero-degree declination is kept
    assert np.isnan(ra[2]) and np.isnan(dec[2])
    assert ra[3] == pytest.approx(ra[0]) and dec[3] == pytest.approx(dec[0])


def test_parse_sexagesimal_rejects_garbage():
    with pytest.raises(GalcatError, match="RA"):
        parse_sexagesimal(["twelve o'clock"], ["+15:00:00"])
    with pytest.raises(GalcatError, match="out of range"):
        parse_sexagesimal(["25:00:00"], ["+15:00:00"])
