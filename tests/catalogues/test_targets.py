"""Target lists: names and/or positions in any table format, any notation, three frames."""

from __future__ import annotations

import re

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Table
from helpers.cli import invoke

from galcat.catalogues import read_catalogue, read_targets
from galcat.errors import GalcatError
from galcat.tables import write_table

N = 12


def merger_rows(shared_data):
    """(SDSSID, RA deg, Dec deg, names) of the Galaxy Zoo Mergers targets (SDSS positions)."""
    lines = (shared_data / "sdss" / "mergers" / "target_info.txt").read_text().splitlines()[1:]
    rows = [line.split("\t") for line in lines if line.strip()]
    return [(r[1], float(r[2]), float(r[3]), [n.strip() for n in r[4].split(",")]) for r in rows]


def ngc_ic_targets(shared_data):
    """The merger systems whose primary galaxy has an NGC or IC name: (SDSSID, name, ra, dec)."""
    out = []
    for sdssid, ra, dec, names in merger_rows(shared_data):
        named = [n for n in names if re.match(r"^(NGC|IC)\d+$", n)]
        if named:
            out.append((sdssid, named[0], ra, dec))
    return out


@pytest.fixture()
def three_ways(shared_data, tmp_path):
    """The same 12 real positions as degrees (CSV), sexagesimal strings (CSV), units (ECSV)."""
    rows = merger_rows(shared_data)[:N]
    ids = [r[0] for r in rows]
    ra, dec = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    degrees = tmp_path / "degrees.csv"
    degrees.write_text(
        "id,ra,dec\n"
        + "".join(f"{i},{float(a)!r},{float(d)!r}\n" for i, a, d in zip(ids, ra, dec, strict=True))
    )
    ra_s = Angle(ra * u.deg).to_string(unit=u.hourangle, sep=":", precision=5)
    dec_s = Angle(dec * u.deg).to_string(unit=u.deg, sep=":", precision=4, alwayssign=True)
    sexagesimal = tmp_path / "sexagesimal.csv"
    sexagesimal.write_text(
        "Name,RA,DEC\n" + "".join(f"{i},{a},{d}\n" for i, a, d in zip(ids, ra_s, dec_s, strict=True))
    )
    units = Table({"objid": ids, "alpha": (ra * u.deg).to(u.hourangle), "delta": (dec * u.deg).to(u.rad)})
    units["alpha"].meta["ucd"] = "pos.eq.ra;meta.main"
    units["delta"].meta["ucd"] = "pos.eq.dec;meta.main"
    with_units = write_table(units, tmp_path / "units.ecsv")
    return ids, SkyCoord(ra * u.deg, dec * u.deg), (degrees, sexagesimal, with_units)


def test_three_notations_agree_within_10_mas(three_ways):
    ids, truth, files = three_ways
    for path in files:
        table = read_targets(path)
        assert list(table["objid"]) == ids, path
        coords = SkyCoord(np.asarray(table["ra"]) * u.deg, np.asarray(table["dec"]) * u.deg)
        assert coords.separation(truth).arcsec.max() < 0.01, path
        assert set(table["position_source"]) == {"input"} and table.meta["n_unresolved"] == 0


def test_every_format_keeps_ids_and_user_columns(three_ways, tmp_path):
    ids, truth, (degrees, *_) = three_ways
    base = Table({"objid": ["007", "0123", "NGC 4321"], "ra": [10.5, 200.25, 185.728875]})
    base["dec"] = [-5.0, 33.3, 15.822305]
    base["mag"] = [12.5, 13.25, 9.4]
    base["note"] = ["a", "b", "c"]
    (tmp_path / "list.tsv").write_text(
        "objid\tra\tdec\tmag\tnote\n" + "".join("\t".join(map(str, row)) + "\n" for row in base)
    )
    paths = [tmp_path / "list.tsv"]
    for ext in (".fits", ".vot", ".ecsv", ".parquet"):
        paths.append(write_table(base, tmp_path / f"list{ext}"))
    for path in paths:
        table = read_targets(path)
        assert list(table["objid"]) == ["007", "0123", "NGC 4321"], path  # exactly as given
        assert np.allclose(table["ra"], base["ra"]) and np.allclose(table["dec"], base["dec"]), path
        assert list(table["mag"]) == [12.5, 13.25, 9.4] and list(table["note"]) == ["a", "b", "c"], path
        assert list(table["target_row"]) == [1, 2, 3] and table.meta["label_schemes"] == {}


def test_a_bad_row_is_named_by_its_number(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra,dec\nA,12:30:49.4,+12:23:28\nB,10.0,20.0\nC,12:3x:00,+01:00:00\n")
    with pytest.raises(GalcatError, match=r"bad.csv, row 3, column 'ra': cannot read '12:3x:00' as RA"):
        read_targets(bad)
    result = invoke("catalogue", "targets", "--source", bad, "--out", tmp_path / "out.fits")
    assert result.exit_code == 2 and "row 3, column 'ra'" in result.output
    assert not (tmp_path / "out.fits").exists()
    out_of_range = tmp_path / "range.csv"
    out_of_range.write_text("name,ra,dec\nA,10,20\nB,10,95\n")
    with pytest.raises(GalcatError, match=r"row 2, column 'dec': 95 deg is outside"):
        read_targets(out_of_range)
    half = tmp_path / "half.csv"
    half.write_text("name,ra,dec\nA,10,20\nB,10,\n")
    with pytest.raises(GalcatError, match=r"row 2, column 'dec': empty while the other"):
        read_targets(half)


def test_fk4_b1950_and_fk5_positions_become_icrs(tmp_path):
    """M87 at its B1950 catalogue position lands on its ICRS position (NED: 12h30m49.42s +12d23m28.0s)."""
    path = tmp_path / "m87.csv"
    path.write_text("name,ra,dec\nM87,12h28m17.6s,+12d40m02s\n")
    icrs = SkyCoord("12h30m49.42s +12d23m28.0s")
    fk4 = read_targets(path, frame="fk4")  # equinox B1950 by default
    assert SkyCoord(fk4["ra"][0] * u.deg, fk4["dec"][0] * u.deg).separation(icrs).arcsec < 2.0
    as_icrs = read_targets(path)  # the same numbers read as ICRS are ~0.4 deg away
    assert SkyCoord(as_icrs["ra"][0] * u.deg, as_icrs["dec"][0] * u.deg).separation(icrs).deg > 0.3
    j2000 = tmp_path / "j2000.csv"
    j2000.write_text("name,ra,dec\nM87,12:30:49.42,+12:23:28.0\n")
    fk5 = read_targets(j2000, frame="fk5", equinox="J2000")
    assert SkyCoord(fk5["ra"][0] * u.deg, fk5["dec"][0] * u.deg).separation(icrs).arcsec < 0.1
    with pytest.raises(GalcatError, match="unknown frame"):
        read_targets(path, frame="galactic-ish")


def test_ngc_ic_names_resolved_offline_with_unresolved_counted(shared_data, tmp_path):
    targets = ngc_ic_targets(shared_data)
    path = tmp_path / "mergers.csv"
    path.write_text(
        "name,sdssid\n" + "".join(f"{n},{s}\n" for s, n, _, _ in targets) + "NGC 99999,1\nArp 999,2\n"
    )
    table = read_catalogue("targets", path, resolver=f"openngc:{shared_data / 'openngc'}")
    assert len(table) == len(targets) + 2
    # objid: the id column (SDSSID) exactly; names stay in the user's column
    assert list(table["objid"][:3]) == [t[0] for t in targets[:3]] and table["name"][0] == targets[0][1]
    assert table.meta["n_unresolved"] == 2 and table.meta["n_resolved"] == len(targets)
    assert list(table["resolve_note"][-2:]) == [
        "name 'NGC 99999' not found by openngc",
        "name 'Arp 999' not found by openngc",
    ]
    found = SkyCoord(np.asarray(table["ra"][:-2]) * u.deg, np.asarray(table["dec"][:-2]) * u.deg)
    truth = SkyCoord([t[2] for t in targets] * u.deg, [t[3] for t in targets] * u.deg)
    close = found.separation(truth).arcsec < 10  # OpenNGC galaxy centre vs the SDSS target position
    assert close.sum() >= 0.8 * len(targets), found.separation(truth).arcsec
    assert set(table["position_source"][:-2]) == {"openngc"} and np.ma.getmaskarray(table["ra"][-2:]).all()


def test_columns_found_by_ucd_and_a_list_without_names_or_positions_is_an_error(tmp_path):
    table = Table({"src": ["a", "b"], "x": [10.0, 20.0], "y": [1.0, 2.0]})
    table["src"].meta["ucd"] = "meta.id;meta.main"
    table["x"].meta["ucd"] = "pos.eq.ra;meta.main"
    table["y"].meta["ucd"] = "pos.eq.dec;meta.main"
    out = read_targets(write_table(table, tmp_path / "ucd.vot"))
    assert list(out["objid"]) == ["a", "b"] and list(out["ra"]) == [10.0, 20.0] and "x" in out.colnames
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("mag,colour\n1,2\n")
    with pytest.raises(GalcatError, match="needs a name column or RA/Dec columns"):
        read_targets(nothing)
