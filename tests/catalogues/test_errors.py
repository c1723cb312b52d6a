"""Bad input -> one-line GalcatError naming file/row/column; CLI exit 2 without a traceback."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from galcat.catalogues import read_catalogue
from galcat.cli import app
from galcat.errors import GalcatError

runner = CliRunner()


def _efigi_lines(shared_data, n=6):
    lines = [ln for ln in (shared_data / "efigi" / "EFIGI_attributes.txt").read_text().splitlines()]
    data = [ln for ln in lines if not ln.startswith("#")]
    return data[:n]


def _cli_error(args, match):
    result = runner.invoke(app, ["catalogue", *map(str, args)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("galcat: error: ")
    assert match in result.stderr, result.stderr
    return result.stderr


def test_missing_column(shared_data, tmp_path):
    lines = _efigi_lines(shared_data)
    cut = [" ".join(ln.split()[:4]) for ln in lines]  # PGCname T T_inf T_sup: no Bar_Length
    path = tmp_path / "efigi.txt"
    path.write_text("\n".join(cut) + "\n")
    _cli_error(["efigi", "--source", path, "--out", tmp_path / "o.ecsv"], "column 'Bar_Length'")


def test_nan_coordinates(shared_data, tmp_path):
    lines = (
        gzip.decompress((shared_data / "gz2" / "tables" / "table5.csv.gz").read_bytes()).decode().splitlines()
    )
    fields = lines[3].split(",")
    fields[2] = ""  # ra of data row 3
    path = tmp_path / "votes.csv"
    path.write_text("\n".join([*lines[:3], ",".join(fields), *lines[4:6]]) + "\n")
    _cli_error(
        ["gz2", "--source", path, "--out", tmp_path / "o.ecsv"], "row 3, column 'ra': coordinate is NaN"
    )


def test_duplicate_ids(shared_data, tmp_path):
    lines = (shared_data / "gz1" / "labels.csv").read_text().splitlines()
    path = tmp_path / "labels.csv"
    path.write_text("\n".join([*lines[:4], lines[2]]) + "\n")
    args = [
        "folder",
        "--source",
        path,
        "--images",
        shared_data / "gz1" / "images",
        "--out",
        tmp_path / "o.ecsv",
    ]
    _cli_error(args, "row 4, column 'OBJID': duplicate id")


def test_unknown_type_strings_are_masked_and_counted(tmp_path):
    path = tmp_path / "rsa.csv"
    path.write_text("Galaxy_ID,Type\nNGC 221,E2\nNGC 5194,Sbc(s)I-II\nNGC 9999,Blob\nIC 749,\n")
    table = read_catalogue("rsa", path)
    assert list(table["objid"]) == ["NGC0221", "NGC5194", "NGC9999", "IC0749"]
    assert list(table["hubble11"].filled("")) == ["E0", "Sb", "", ""]
    assert table.meta["n_masked"] == 2
    assert list(table["label_reason"]) == ["", "", "unrecognised RSA type 'Blob'", "RSA type missing"]
    result = runner.invoke(
        app, ["catalogue", "rsa", "--source", str(path), "--out", str(tmp_path / "r.ecsv")]
    )
    assert result.exit_code == 0 and "masked labels: 2" in result.stderr


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    _cli_error(["efigi", "--source", empty, "--out", tmp_path / "o.ecsv"], "empty file")
    header = tmp_path / "header.csv"
    header.write_text("Galaxy_ID,Type\n")
    _cli_error(["rsa", "--source", header, "--out", tmp_path / "o.ecsv"], "no data rows")


def test_truncated_files(shared_data, tmp_path):
    lines = _efigi_lines(shared_data)
    path = tmp_path / "efigi.txt"
    path.write_text("\n".join(lines) + "\n" + lines[-1][:30] + "\n")
    _cli_error(
        ["efigi", "--source", path, "--out", tmp_path / "o.ecsv"], "row 6 (line 7): expected 52 fields"
    )
    raw = (shared_data / "gz2" / "tables" / "table5.csv.gz").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    _cli_error(["gz2", "--source", cut, "--out", tmp_path / "o.ecsv"], "truncated or corrupt gzip")


def test_wrong_delimiter_both_ways(shared_data, tmp_path):
    lines = _efigi_lines(shared_data)
    comma = tmp_path / "efigi_comma.txt"
    comma.write_text("\n".join(",".join(ln.split()) for ln in lines) + "\n")
    _cli_error(["efigi", "--source", comma, "--out", tmp_path / "o.ecsv"], "looks comma-separated")
    efigi = shared_data / "efigi" / "EFIGI_attributes.txt"
    _cli_error(["folder", "--source", efigi, "--images", tmp_path, "--out", tmp_path / "o.ecsv"],
               "looks whitespace-separated")  # fmt: skip


def test_paper_labels_without_table_and_bad_option(shared_data, tmp_path):
    efigi = shared_data / "efigi" / "EFIGI_attributes.txt"
    _cli_error(
        ["efigi", "--source", efigi, "--labels", "paper", "--out", tmp_path / "o.ecsv"], "--paper-labels"
    )
    _cli_error(
        ["efigi", "--source", efigi, "--labels", "guess", "--out", tmp_path / "o.ecsv"], "labels='guess'"
    )
    with pytest.raises(GalcatError, match="does not take images"):
        read_catalogue("gz2", "x.csv", images="dir")


def test_cli_writes_table_and_prints_counts(shared_data, tmp_path):
    out = tmp_path / "efigi.ecsv"
    efigi = shared_data / "efigi" / "EFIGI_attributes.txt"
    result = runner.invoke(app, ["catalogue", "efigi", "--source", str(efigi), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "4458 rows" in result.stderr and "Sc 1109" in result.stderr and "masked labels: 0" in result.stderr
    back = Table.read(out)
    assert len(back) == 4458 and back["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert back.meta["label_params"]["bar_threshold"] == 0.5
    _cli_error(["efigi", "--source", efigi, "--out", out], "already exists")
    help_text = runner.invoke(app, ["catalogue", "rsa", "--help"]).output
    assert "Example: galcat catalogue rsa" in help_text


def test_vizier_path_against_local_server(shared_data, tmp_path, httpserver, monkeypatch):
    """Real EFIGI rows served as a VizieR VOTable; then VizieR's own error answer -> one line, exit 2."""
    from astropy.io.votable import from_table, writeto

    from galcat.catalogues.textio import read_delimited

    rows = read_delimited(shared_data / "efigi" / "EFIGI_attributes.txt", "whitespace", "#")[:25]
    vot = from_table(rows)
    vot.resources[0].tables[0].name = "J/A+A/532/A74/attributes"
    path = tmp_path / "efigi.vot"
    writeto(vot, str(path))
    monkeypatch.setenv("GALCAT_VIZIER_SERVER", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_oneshot_request("/viz-bin/votable").respond_with_data(
        path.read_bytes(), content_type="text/xml"
    )
    table = read_catalogue("efigi")
    assert (
        len(table) == 25
        and table["objid"][0] == "PGC0000212"
        and table.meta["source"] == "VizieR J/A+A/532/A74"
    )
    assert not np.ma.getmaskarray(table["hubble9"]).any()
    error = (shared_data / "services" / "vizier" / "tests" / "data" / "no_server_error.xml").read_bytes()
    httpserver.expect_request("/viz-bin/votable").respond_with_data(error, content_type="text/xml")
    _cli_error(["rsa", "--out", tmp_path / "o.ecsv"], "VizieR")


def test_offline_network_fails_fast(tmp_path, monkeypatch, fake_clock):
    """An unreachable URL gives one line and exit 2 within seconds (no hang, no traceback)."""
    _cli_error(["gz2", "--source", "http://127.0.0.1:9/gz2_hart16.csv.gz", "--out", tmp_path / "o.ecsv"],
               "download failed")  # fmt: skip
    assert sum(fake_clock.sleeps) < 20  # the backoff it planned, on the network layer's clock


def test_rsa_vizier_b1950_positions_are_precessed_to_icrs(shared_data, tmp_path, httpserver, monkeypatch):
    """A VII/51-shaped VOTable (B1950 sexagesimal) -> ICRS within 1 arcsec of OpenNGC's J2000 position."""
    import astropy.units as u
    import pandas as pd
    from astropy.coordinates import FK4, SkyCoord
    from astropy.io.votable import from_table, writeto

    derived = pd.read_csv(shared_data / "openngc" / "DERIVED_rsa_openngc_efigi_crossmatch.csv")
    derived = derived.drop_duplicates("Galaxy_ID").head(11)  # the file lists IC0764 twice
    j2000 = SkyCoord(derived["RA"], derived["Dec"], unit=(u.hourangle, u.deg))
    b1950 = j2000.transform_to(FK4(equinox="B1950"))
    names = [f"{n[:-4]} {int(n[-4:])}" for n in derived["Galaxy_ID"]]  # 'IC 749': VizieR-style spacing
    vii51 = Table(
        {
            "Name": names,
            "RA1950": b1950.ra.to_string(unit=u.hour, sep=" ", precision=2),
            "DE1950": b1950.dec.to_string(unit=u.deg, sep=" ", precision=1, alwayssign=True),
            "Type": (["Sbc(s)I-II", "E3/S0", "Amorph"] * 4)[:11],
        }
    )
    path = tmp_path / "vii51.vot"
    writeto(from_table(vii51), str(path))
    monkeypatch.setenv("GALCAT_VIZIER_SERVER", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/viz-bin/votable").respond_with_data(
        path.read_bytes(), content_type="text/xml"
    )
    table = read_catalogue("rsa")
    assert table["objid"][0] == "IC0749" and len(table) == 11
    assert SkyCoord(table["ra"], table["dec"]).separation(j2000).max() < 1 * u.arcsec
    assert list(table["hubble11"][:3]) == ["Sb", "E3-5", "Irr"]
