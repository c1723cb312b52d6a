"""write_table/read_table: formats by extension, units/UCDs/descriptions/vector columns kept, and the
files pass fitsverify, the astropy VOTable validator and STILTS."""

from __future__ import annotations

import io
import re
import subprocess

import numpy as np
import pytest
from astropy import units as u
from astropy.io import votable
from astropy.table import MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.tables import annotate_position_columns, read_table, table_format, write_table

ALL_EXTENSIONS = ["fits", "fit", "fits.gz", "vot", "xml", "votable", "ecsv", "parquet", "h5", "hdf5"]


def _catalogue(n=5, dim=128):
    rng = np.random.default_rng(0)
    table = Table()
    table["objid"] = [f"PGC{i:07d}" for i in range(1, n + 1)]
    table["ra"] = MaskedColumn(rng.uniform(0, 360, n), mask=[False, True] + [False] * (n - 2))
    table["dec"] = MaskedColumn(rng.uniform(-90, 90, n), mask=[False, True] + [False] * (n - 2))
    table["ra"].description = "Right ascension (ICRS)"
    annotate_position_columns(table)
    table["hubble9"] = MaskedColumn(
        ["E", "S0", "Sa", "Sb", "Sc"][:n], mask=[False, False, True, False, False][:n]
    )
    table["pgc"] = MaskedColumn(np.arange(1, n + 1), mask=[False] * (n - 1) + [True])
    table["embedding"] = rng.normal(size=(n, dim)).astype(np.float32)
    table["embedding"].description = "unit-norm DML embedding"
    table["prob_E"] = np.linspace(0, 1, n).astype(np.float32)
    table["prob_E"].meta["ucd"] = "stat.probability"
    table.meta.update(catalogue="efigi", label_params={"t_max": 3}, label_schemes={"hubble9": ["E", "S0"]})
    return table


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_round_trip_keeps_units_ucds_vectors_masks(tmp_path, ext):
    table = _catalogue()
    path = write_table(table, tmp_path / f"cat.{ext}")
    back = read_table(path)
    assert back.colnames == table.colnames
    assert back["ra"].unit == u.deg and back["dec"].unit == u.deg
    assert back["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert back["dec"].meta["ucd"] == "pos.eq.dec;meta.main"
    assert back["prob_E"].meta["ucd"] == "stat.probability"
    assert back["ra"].description == "Right ascension (ICRS)"
    assert back["embedding"].shape == (5, 128) and back["embedding"].dtype.str[1:] == "f4"
    np.testing.assert_array_equal(np.asarray(back["embedding"]), np.asarray(table["embedding"]))
    assert np.ma.getmaskarray(back["ra"]).tolist() == [False, True, False, False, False]
    assert np.ma.getmaskarray(back["pgc"]).tolist() == [False] * 4 + [True]
    assert back["pgc"][0] == 1 and back["objid"][2] == "PGC0000003"
    assert back.meta["label_params"] == {"t_max": 3} and back.meta["catalogue"] == "efigi"
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind


def test_csv_refuses_vectors_and_round_trips_scalars(tmp_path):
    with pytest.raises(GalcatError, match="vector columns"):
        write_table(_catalogue(), tmp_path / "x.csv")
    table = _catalogue()
    del table["embedding"]
    back = read_table(write_table(table, tmp_path / "x.csv"))
    assert back["objid"].tolist() == table["objid"].tolist()


def test_overwrite_policy_and_bad_paths(tmp_path):
    path = write_table(_catalogue(), tmp_path / "cat.fits")
    before = path.read_bytes()
    with pytest.raises(GalcatError, match="already exists.*overwrite"):
        write_table(_catalogue(3), path)
    assert path.read_bytes() == before
    write_table(_catalogue(3), path, overwrite=True)
    assert len(read_table(path)) == 3
    with pytest.raises(GalcatError, match="unknown table format"):
        write_table(_catalogue(), tmp_path / "cat.txt")
    with pytest.raises(GalcatError, match="output folder does not exist"):
        write_table(_catalogue(), tmp_path / "missing" / "cat.fits")
    assert table_format("A.FITS.GZ") == "fits"


def test_failed_write_leaves_no_partial_file(tmp_path):
    table = _catalogue()
    table["bad"] = [object()] * len(table)  # not serialisable
    with pytest.raises(Exception):  # noqa: B017 - astropy's own error type varies by format
        write_table(table, tmp_path / "cat.ecsv")
    assert list(tmp_path.iterdir()) == []


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(GalcatError, match="file not found"):
        read_table(tmp_path / "nope.fits")
    empty = tmp_path / "empty.ecsv"
    empty.write_text("")
    with pytest.raises(GalcatError, match="empty.ecsv.*empty"):
        read_table(empty)
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all" * 10)
    with pytest.raises(GalcatError, match="junk.fits.*cannot read as fits"):
        read_table(junk)


def test_annotate_requires_columns():
    with pytest.raises(GalcatError, match="column 'ra'"):
        annotate_position_columns(Table({"x": [1.0]}))


def test_fitsverify_reports_no_errors(tmp_path, require_tool):
    fitsverify = require_tool("fitsverify")
    path = write_table(_catalogue(), tmp_path / "cat.fits")
    out = subprocess.run([fitsverify, str(path)], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"Verification found (\d+) warning\(s\) and (\d+) error\(s\)", out)
    assert found, out
    assert (int(found[1]), int(found[2])) == (0, 0), out


def test_votable_validates(tmp_path):
    path = write_table(_catalogue(), tmp_path / "cat.vot")
    report = io.StringIO()
    assert votable.validate(str(path), output=report, xmllint=False) is True, report.getvalue()
    field = {f.name: f for f in votable.parse(str(path)).get_first_table().fields}
    assert field["ra"].ucd == "pos.eq.ra;meta.main" and field["embedding"].arraysize == "128"


@pytest.mark.parametrize("ext", ["fits", "vot"])
def test_stilts_reads_units_and_ucds(tmp_path, require_tool, ext):
    stilts = require_tool("stilts")
    path = write_table(_catalogue(), tmp_path / f"cat.{ext}")
    summary = subprocess.run(
        [stilts, "tpipe", f"in={path}", "omode=meta"], capture_output=True, text=True, timeout=120
    )
    assert summary.returncode == 0, summary.stderr
    assert "Rows:    5" in summary.stdout and "embedding(float[128])" in summary.stdout
    meta = subprocess.run(
        [stilts, "tpipe", f"in={path}", "cmd=meta Name Units UCD", "omode=out", "ofmt=ascii"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert meta.returncode == 0, meta.stderr
    rows = {
        line.split()[0]: line.split()[1:] for line in meta.stdout.splitlines() if not line.startswith("#")
    }
    assert rows["ra"] == ["deg", "pos.eq.ra;meta.main"]
    assert rows["dec"] == ["deg", "pos.eq.dec;meta.main"]
    assert rows["prob_E"][-1] == "stat.probability"


def test_real_catalogue_fits_passes_fitsverify_without_warnings(tmp_path, shared_data, require_tool):
    """A real reader's table (long, nested meta -> CONTINUE cards) declares LONGSTRN: 0 warnings."""
    from galcat.catalogues import read_catalogue

    fitsverify = require_tool("fitsverify")
    table = read_catalogue("efigi", source=shared_data / "efigi" / "EFIGI_attributes.txt")
    path = write_table(table, tmp_path / "efigi.fits")
    out = subprocess.run([fitsverify, str(path)], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"Verification found (\d+) warning\(s\) and (\d+) error\(s\)", out)
    assert found, out
    assert (int(found[1]), int(found[2])) == (0, 0), out
    assert read_table(path).meta["label_schemes"]["hubble9"][0] == "E"


def _fitsverify_counts(fitsverify, path) -> tuple[int, int, str]:
    out = subprocess.run([fitsverify, str(path)], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Verification found (\d+) warning\(s\) and (\d+) error\(s\)", out)
    assert found, out
    return int(found[1]), int(found[2]), out


def _votable_silent(path) -> str:
    """'' when astropy's validator reports nothing (no W/E codes), else its report."""
    report = io.StringIO()
    ok = votable.validate(str(path), output=report, xmllint=False)
    text = report.getvalue()
    return "" if ok and "found no violations" in text else text


def _hostile_table() -> Table:
    """Names FITS and VOTable checkers reject, and labels no FITS string may hold as they are."""
    table = Table()
    table["objid"] = ["a1", "a2", "a3"]
    table["OBJID"] = [1, 2, 3]  # equal to objid ignoring case
    table["New type"] = MaskedColumn(["Sbc", "Émilie–Sa", "Irr \\ n"], mask=[False, False, True])
    table["New type"].description = "type after revision (Sandage & Tammann, é)"
    table["E3-5"] = np.array([0.1, 0.2, 0.3])
    table["3col"] = np.array([1, 2, 3], dtype=np.int16)
    table["hubble9"] = ["É", "Sb", "E"]
    table.meta["citation"] = "Müller et al. (2019)"
    return table


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_hostile_names_and_non_ascii_round_trip(tmp_path, ext):
    import warnings

    table = _hostile_table()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. VOTable W03 at write time
        path = write_table(table, tmp_path / f"cat.{ext}")
    back = read_table(path)
    assert back.colnames == table.colnames
    assert list(back["hubble9"]) == ["É", "Sb", "E"]
    assert list(back["New type"][:2]) == ["Sbc", "Émilie–Sa"]
    assert back["New type"].description == table["New type"].description
    assert back.meta["citation"] == "Müller et al. (2019)"


def test_hostile_names_pass_fitsverify_and_votable_validate(tmp_path, require_tool):
    from astropy.io import fits

    fitsverify = require_tool("fitsverify")
    for ext in ("fits", "fits.gz"):
        path = write_table(_hostile_table(), tmp_path / f"cat.{ext}")
        warnings_, errors, out = _fitsverify_counts(fitsverify, path)
        assert (warnings_, errors) == (0, 0), out
    with fits.open(tmp_path / "cat.fits") as hdul:
        header = hdul[1].header
        names = [header[f"TTYPE{i}"] for i in range(1, 7)]
        assert names == ["objid", "OBJID_2", "New_type", "E3_5", "c3col", "hubble9"]
        assert "original column name 'New type'" in header["TCOMM3"]  # the original, for any reader
    for ext in ("vot", "xml", "votable"):
        path = write_table(_hostile_table(), tmp_path / f"cat.{ext}")
        assert _votable_silent(path) == ""
        fields = votable.parse(str(path)).get_first_table().fields
        assert [f.name for f in fields][2:4] == ["New type", "E3-5"] and fields[2].ID == "New_type"


def _real_catalogues(shared_data):
    from galcat.catalogues import read_catalogue

    efigi = shared_data / "efigi"
    return {
        "efigi": lambda: read_catalogue("efigi", efigi / "EFIGI_attributes.txt"),
        "efigi-paper": lambda: read_catalogue(
            "efigi", efigi / "EFIGI_attributes.txt", labels="paper", paper_labels=efigi / "efigi_model.csv"
        ),
        "rsa-paper": lambda: read_catalogue(
            "rsa",
            shared_data / "rsa" / "usethis_rsa2.csv",
            labels="paper",
            resolver=f"openngc:{shared_data / 'openngc'}",
        ),  # fmt: skip
        "gz1-folder": lambda: read_catalogue("folder", shared_data / "gz1" / "labels.csv"),
        "gz2-kaggle": lambda: read_catalogue("folder", shared_data / "gz2" / "kaggle" / "labels.csv"),
        "gz2-stripe82": lambda: read_catalogue("gz2", shared_data / "gz2" / "tables" / "table5.csv.gz"),
    }


@pytest.mark.parametrize(
    "name", ["efigi", "efigi-paper", "rsa-paper", "gz1-folder", "gz2-kaggle", "gz2-stripe82"]
)
def test_every_real_catalogue_passes_both_checkers(tmp_path, shared_data, require_tool, name):
    """fitsverify 0/0 on the whole table; the VOTable validator silent (first 300 rows: VOTable
    TABLEDATA of the 231-column GZ2 table takes a minute to write, and names/types are per column)."""
    fitsverify = require_tool("fitsverify")
    table = _real_catalogues(shared_data)[name]()
    warnings_, errors, out = _fitsverify_counts(fitsverify, write_table(table, tmp_path / "cat.fits"))
    assert (warnings_, errors) == (0, 0), out
    assert _votable_silent(write_table(table[:300], tmp_path / "cat.vot")) == ""
    assert read_table(tmp_path / "cat.fits").colnames == table.colnames
