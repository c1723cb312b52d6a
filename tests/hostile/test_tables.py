"""Hostile target lists for `galcat classify` (issue 21): names offline with the cutout service
unreachable, a nonsense name, user columns named like galcat's, ids with invisible whitespace,
VizieR's sexagesimal units in every format, a 2-D position column, and FITS provenance as TOPCAT
and STILTS see it. Each case asserts the exit code, stderr, the inputs' bytes and the output."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from helpers.cli import invoke, one_line_error

from galcat.catalogues.targets import read_targets
from galcat.outputs.classify import ClassifyConfig, classify_targets
from galcat.tables import clean_text, read_table

from .conftest import digest

#: ten galaxies every astronomer knows, as they would type them, and their OpenNGC positions (deg)
FAMOUS = {
    "NGC 4414": (186.6129, 31.2235), "M 51": (202.4696, 47.1952), "NGC 224": (10.6847, 41.2690),
    "NGC 1300": (49.9209, -19.4111), "M 101": (210.8023, 54.3489), "NGC 4594": (189.9976, -11.6231),
    "M 87": (187.7059, 12.3911), "NGC 891": (35.6392, 42.3491), "NGC 3031": (148.8882, 69.0653),
    "NGC 5128": (201.3651, -43.0191),
}  # fmt: skip
NONSENSE = "Fooxyz 123"
OFFLINE = "http://galcat-offline.invalid"  # .invalid never resolves (RFC 2606): a service that is down
MODEL_COLUMNS = ("embedding", "pred_hubble9", "pred_prob", "p_E", "pred_entropy", "knn_hubble9", "knn_ids")


def _stderr_lines(result) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    return lines


@pytest.fixture
def names_csv(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("name,note\n" + "".join(f"{n},{i}\n" for i, n in enumerate([*FAMOUS, NONSENSE])))
    return path


def _gz1_folder(shared_data, tmp_path, names) -> object:
    """Real Galaxy Zoo JPEGs named after ``names`` (one file each)."""
    files = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[: len(names)]
    folder = tmp_path / "images"
    folder.mkdir()
    for name, path in zip(names, files, strict=True):
        (folder / f"{name}.jpeg").symlink_to(path)
    return folder


def test_names_offline_come_back_every_row_in_order_with_its_status(shared_data, tiny, names_csv, tmp_path):
    """Issue 21.1 and 'must show': 10 famous names + 1 nonsense, OpenNGC offline, cutout service down."""
    run, _ = tiny
    before = digest(names_csv)
    out, resolver = tmp_path / "names_out.fits", f"openngc:{shared_data / 'openngc'}"
    args = ["--targets", names_csv, "--out", out, "--base-url", OFFLINE, "--resolver", resolver]
    result = invoke("classify", "--model", run, *args)
    assert result.exit_code == 3, result.output
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "no row of" in lines[0] and "classify_status" in lines[0]
    assert digest(names_csv) == before
    table = read_table(out)
    assert list(table["name"]) == [*FAMOUS, NONSENSE] and len(table) == 11
    status = [str(s) for s in table["classify_status"]]
    assert all(s.startswith("download failed: ") and "galcat-offline.invalid" in s for s in status[:10])
    assert status[10] == f"unresolved name: name '{NONSENSE}' not found by openngc"
    found = np.c_[np.asarray(table["ra_icrs"][:10]), np.asarray(table["dec_icrs"][:10])]
    assert np.allclose(found, list(FAMOUS.values()), atol=1e-3)
    for column in MODEL_COLUMNS:  # the schema does not depend on success (issue 21.2)
        assert np.ma.getmaskarray(table[column]).all(), column
    assert "10 rows, e.g. row 1: download failed" in result.stdout
    assert f"not classified (unresolved name): 1 rows, e.g. row 11: unresolved name: name '{NONSENSE}'" in (
        result.stdout
    )
    assert not list(tmp_path.glob(".*galcat-work*"))


def test_resolve_only_needs_neither_images_nor_a_model(shared_data, names_csv, tmp_path):
    out = tmp_path / "positions.csv"  # no vectors without a model: CSV is fine
    before = digest(names_csv)
    result = invoke(
        "classify", "--targets", names_csv, "--out", out, "--resolve-only",
        "--resolver", f"openngc:{shared_data / 'openngc'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not _stderr_lines(result) and digest(names_csv) == before
    assert "11 rows, 10 with a position, 1 not" in result.stdout
    assert "without a position (unresolved name): 1 rows" in result.stdout
    table = read_table(out)
    assert list(table["classify_status"]) == ["resolved"] * 10 + [
        f"unresolved name: name '{NONSENSE}' not found by openngc"
    ]
    assert table.colnames == ["name", "note", "ra_icrs", "dec_icrs", "position_source", "classify_status",
                              "image_origin"]  # fmt: skip
    assert set(table["position_source"][:10]) == {"openngc"}
    one_line_error(invoke("classify", "--targets", names_csv, "--out", tmp_path / "x.fits"), "--model")


def test_a_nonsense_name_with_images_is_an_unresolved_name_and_the_schema_holds(shared_data, tiny, tmp_path):
    """Issue 21.1 (images given) and 21.2: 0 or 2 rows classified, the same columns, masked on failures."""
    run, _ = tiny
    folder = _gz1_folder(shared_data, tmp_path, ["NGC4414", "NGC4594"])
    targets = tmp_path / "t.csv"
    targets.write_text(f"name\nNGC4414\nNGC4594\n{NONSENSE}\n")
    resolver = f"openngc:{shared_data / 'openngc'}"
    out = tmp_path / "some.ecsv"
    result = invoke("classify", "--model", run, "--targets", targets, "--images", folder, "--out", out,
                    "--resolver", resolver)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 rows, 2 classified, 1 not" in result.stdout
    assert f"not classified (unresolved name): 1 rows, e.g. row 3: unresolved name: name '{NONSENSE}'" in (
        result.stdout
    )
    some = read_table(out)
    assert list(some["classify_status"][:2]) == ["ok", "ok"]
    assert (
        some["classify_status"][2].startswith("unresolved name: ")
        and "no image file" in some["classify_status"][2]
    )
    nothing_csv = tmp_path / "none.csv"
    nothing_csv.write_text(f"name\n{NONSENSE}\nNGC 1300\n")
    result = invoke("classify", "--model", run, "--targets", nothing_csv, "--images", folder,
                    "--out", tmp_path / "none.ecsv", "--resolver", resolver)  # fmt: skip
    assert result.exit_code == 3 and len(_stderr_lines(result)) == 1
    nothing = read_table(tmp_path / "none.ecsv")
    assert nothing["classify_status"][1].startswith("no image: ")
    assert nothing.colnames == some.colnames
    for column in MODEL_COLUMNS:
        assert (
            np.ma.getmaskarray(nothing[column]).all() and nothing[column].shape[1:] == some[column].shape[1:]
        )
        assert not np.ma.getmaskarray(some[column][:2]).any() and np.ma.getmaskarray(some[column][2]).all()


def test_user_columns_named_like_galcats_are_kept_and_galcats_get_a_suffix(shared_data, tiny, tmp_path):
    """Issue 21.8: the user's pred_hubble9, embedding, p_E, knn_ids, classify_status (and P_SA, case)."""
    run, _ = tiny
    ids = ["a1", "a2", "a3", "a4"]
    folder = _gz1_folder(shared_data, tmp_path, ids)
    targets = tmp_path / "mine.csv"
    targets.write_text(
        "objid,pred_hubble9,embedding,p_E,knn_ids,classify_status,ra_icrs,dec_icrs,P_SA\n"
        + "".join(f"{o},mine{i},emb{i},0.{i},k{i},pending,1{i}.0,2{i}.0,x{i}\n" for i, o in enumerate(ids))
    )
    before = digest(targets)
    out = tmp_path / "mine.fits"
    result = invoke("classify", "--model", run, "--targets", targets, "--images", folder, "--out", out)
    assert result.exit_code == 0, result.output
    assert "4 rows, 4 classified, 0 not" in result.stdout and "classify_status (galcat's is" in result.stdout
    assert digest(targets) == before
    table = read_table(out)
    assert list(table["pred_hubble9"]) == [f"mine{i}" for i in range(4)]
    assert list(table["classify_status"]) == ["pending"] * 4 and list(table["P_SA"]) == [
        "x0",
        "x1",
        "x2",
        "x3",
    ]
    assert list(table["classify_status_galcat"]) == ["ok"] * 4
    assert (
        table["embedding_galcat"].shape == (4, 16) and not np.ma.getmaskarray(table["embedding_galcat"]).any()
    )
    for column in ("pred_hubble9_galcat", "p_E_galcat", "knn_ids_galcat", "ra_icrs_galcat", "p_Sa_galcat"):
        assert not np.ma.getmaskarray(table[column]).any(), column
    assert table.meta["classify_renamed"]["embedding"] == "embedding_galcat"


def test_ids_with_invisible_whitespace_are_the_same_objects(shared_data, tiny, tmp_path):
    """Issue 21.9: an id ending in NBSP, tab or em space (or NFD accents) classifies like the plain id."""
    run, _ = tiny
    plain = ["587722952767439450", "NGC 4414", "café"]
    folder = _gz1_folder(shared_data, tmp_path, plain)
    typed = ["587722952767439450\u00a0", "NGC\u00a04414\t", "cafe\u0301\u2003"]
    targets = tmp_path / "ws.csv"
    targets.write_bytes(
        ("\ufeffobjid,n\r\n" + "".join(f'"{t}",{i}\r\n' for i, t in enumerate(typed))).encode()
    )
    before = digest(targets)
    out = tmp_path / "ws.vot"
    result = invoke("classify", "--model", run, "--targets", targets, "--images", folder, "--out", out)
    assert result.exit_code == 0, result.output
    assert "3 rows, 3 classified, 0 not" in result.stdout and digest(targets) == before
    table = read_table(out)
    assert table["objid"][0] == typed[0] and table["objid"][2] == typed[2]  # the user's own column as given
    assert [clean_text(t) for t in table["objid"]] == plain
    assert list(table["classify_status"]) == ["ok"] * 3
    assert not list(tmp_path.glob(".*galcat-work*"))
    assert [clean_text(t) for t in typed] == plain


def _vizier_votable(path, rows) -> None:
    cells = "".join(f"<TR><TD>{n}</TD><TD>{ra}</TD><TD>{de}</TD></TR>" for n, ra, de in rows)
    path.write_text(
        '<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE><TABLE><FIELD name="Name" datatype="char" arraysize="*" ucd="meta.id;meta.main"/>'
        '<FIELD name="RAJ2000" datatype="char" arraysize="11" unit="h:m:s" ucd="pos.eq.ra;meta.main"/>'
        '<FIELD name="DEJ2000" datatype="char" arraysize="11" unit="d:m:s" ucd="pos.eq.dec;meta.main"/>'
        f"<DATA><TABLEDATA>{cells}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
    )


@pytest.mark.parametrize("fmt", ["vot", "fits", "ecsv"])
def test_vizier_sexagesimal_units_in_every_format(tmp_path, fmt):
    """Issue 21.3: RAJ2000 in h:m:s, DEJ2000 in d:m:s (VizieR's own convention), and hourangle."""
    rows = [("NGC 4594", "12 39 59.43", "-11 37 23.0"), ("M 31", "00 42 44.3", "+41 16 09")]
    path = tmp_path / f"vizier.{fmt}"
    if fmt == "vot":
        _vizier_votable(path, rows)
    elif fmt == "fits":
        columns = [
            fits.Column("Name", "10A", array=[r[0] for r in rows]),
            fits.Column("RAJ2000", "11A", unit="h:m:s", array=[r[1] for r in rows]),
            fits.Column("DEJ2000", "11A", unit="d:m:s", array=[r[2] for r in rows]),
        ]
        fits.BinTableHDU.from_columns(columns).writeto(path)
    else:
        path.write_text(
            "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: Name, datatype: string}\n"
            "# - {name: RAJ2000, unit: hourangle, datatype: string}\n"
            "# - {name: DEJ2000, unit: d:m:s, datatype: string}\n# schema: astropy-2.0\n"
            "Name RAJ2000 DEJ2000\n" + "".join(f'"{n}" "{r}" "{d}"\n' for n, r, d in rows)
        )
    before = digest(path)
    table = read_targets(path)
    assert np.allclose(table["ra"], [189.997625, 10.6845833], atol=1e-6)
    assert np.allclose(table["dec"], [-11.6230556, 41.2691667], atol=1e-6)
    out = tmp_path / "resolved.fits"  # VOTable text columns are variable-length: FITS gets them fixed
    result = invoke("classify", "--targets", path, "--out", out, "--resolve-only")
    assert result.exit_code == 0 and not _stderr_lines(result), result.output
    back = read_table(out)
    assert digest(path) == before and list(back["classify_status"]) == ["resolved"] * 2
    assert list(back["RAJ2000"]) == [r[1] for r in rows] and str(back["RAJ2000"].unit) in (
        "h:m:s",
        "hourangle",
    )


def test_a_2d_position_column_is_one_line(tmp_path):
    """Issue 21.15: an (n, 2) ``ra`` column in a FITS target list."""
    path = tmp_path / "twod.fits"
    Table({"name": ["a", "b"], "ra": np.ones((2, 2)), "dec": [1.0, 2.0]}).write(path)
    before = digest(path)
    out = tmp_path / "o.ecsv"
    line = one_line_error(invoke("classify", "--targets", path, "--out", out, "--resolve-only"), "ra", "one")
    assert "twod.fits" in line and not out.exists() and digest(path) == before


def test_a_unit_that_is_no_angle_is_one_line(tmp_path):
    path = tmp_path / "kpc.ecsv"
    Table({"name": ["a"], "ra": [1.0], "dec": [2.0]}, units={"ra": "kpc"}).write(path)
    one_line_error(invoke("classify", "--targets", path, "--out", tmp_path / "o.ecsv", "--resolve-only"),
                   "kpc", "not an angle")  # fmt: skip


def test_classify_without_an_output_file_returns_the_table(shared_data, tiny, tmp_path):
    """Issue 20.6: ClassifyConfig / classify_targets as a Python API, nothing written."""
    run, _ = tiny
    folder = _gz1_folder(shared_data, tmp_path, ["g1", "g2"])
    targets = tmp_path / "t.csv"
    targets.write_text("objid\ng1\ng2\ng3\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = classify_targets(ClassifyConfig(model=str(run), targets=str(targets), images=str(folder), k=3))
    assert result.out is None and result.n_classified == 2 and len(result.table) == 3
    assert list(result.status) == ["ok", "ok", result.status[2]] and result.status[2].startswith("no image")
    assert result.table["pred_hubble9"].mask.tolist() == [False, False, True]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _stilts_meta(stilts, path) -> str:
    done = subprocess.run(
        [stilts, "tpipe", f"in={path}", "omode=meta"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _parameters(meta: str) -> list[str]:
    block = meta.split("Parameters\n----------\n", 1)[1].split("\nColumns\n", 1)[0]
    return [
        line[:-1] for line in block.splitlines() if line and not line.startswith(" ") and line.endswith(":")
    ]


def test_fits_provenance_is_named_parameters_in_stilts(shared_data, tiny, names_csv, tmp_path, require_tool):
    """Issue 21.4: embed's and classify's FITS outputs as STILTS shows them: every provenance
    entry a parameter of its own name, long ones whole, no CONTINUE; fitsverify still clean."""
    stilts, fitsverify = require_tool("stilts"), require_tool("fitsverify")
    run, store = tiny
    embedded = tmp_path / "embedded.fits"
    assert invoke("embed", "--model", run, "--store", store, "--out", embedded).exit_code == 0
    classified = tmp_path / "classified.fits"
    result = invoke("classify", "--targets", names_csv, "--out", classified, "--resolve-only",
                    "--resolver", f"openngc:{shared_data / 'openngc'}")  # fmt: skip
    assert result.exit_code == 0, result.output
    for path, wanted in (
        (
            embedded,
            ("catalogue", "label_rule", "embed_model", "embed_store", "galcat_version", "label_schemes"),
        ),
        (classified, ("classify_config", "classify_targets", "classify_resolver", "n_unresolved")),
    ):
        meta = _stilts_meta(stilts, path)
        names = _parameters(meta)
        assert "CONTINUE" not in names and "HIERARCH" not in meta, names
        assert set(wanted) <= set(names), (wanted, names)
        astropy_meta = read_table(path).meta
        for key in wanted:  # every value whole: long and structured ones too
            shown = meta.split(f"\n{key}:\n", 1)[1].splitlines()[0].strip()
            value = astropy_meta[key]
            assert (json.loads(shown) if isinstance(value, dict | list) else shown) == (
                value if isinstance(value, dict | list) else str(value)
            ), key
        check = subprocess.run([fitsverify, "-q", str(path)], capture_output=True, text=True, timeout=60)
        assert "verification OK" in check.stdout, check.stdout
        with fits.open(path, checksum=True) as hdul:
            assert hdul[0].header["VOTMETA"] is True and list(hdul[0].header)[4] == "VOTMETA"
    config_line = _stilts_meta(stilts, classified).split("\nclassify_config:\n", 1)[1].splitlines()[0]
    assert config_line.strip().endswith("}") and '"resolve_only": true' in config_line


def test_keep_store_in_a_read_only_folder_names_keep_store(tiny, names_csv, readonly_dir, tmp_path):
    """Issue 21.17: the message names the option that cannot be written."""
    run, _ = tiny
    out = tmp_path / "o.fits"
    result = invoke("classify", "--model", run, "--targets", names_csv, "--out", out,
                    "--keep-store", readonly_dir / "s.h5")  # fmt: skip
    line = one_line_error(result, "--keep-store", "read-only")
    assert "--out" not in line and not out.exists()


def test_out_that_is_a_folder_is_refused_before_any_work(names_csv, tmp_path):
    """Issue 21.17: ``--out <dir> --overwrite`` is one line naming --out, before the model is even read."""
    folder = tmp_path / "results.fits"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    before = digest(folder)
    result = invoke("classify", "--model", tmp_path / "no-such-run", "--targets", names_csv, "--out", folder,
                    "--overwrite")  # fmt: skip
    line = one_line_error(result, "results.fits", "is a folder", "--out")
    assert ".tmp" not in line and digest(folder) == before


def test_row_numbers_count_from_one_everywhere(tmp_path):
    """Issue 21.17: target lists, HATS and position checks all name the user's row 1 as row 1."""
    from astropy.table import MaskedColumn

    from galcat.errors import GalcatError
    from galcat.tables import finite_positions, write_table

    path = tmp_path / "t.csv"
    path.write_text("name,ra,dec\na,10,20\nb,xx,21\n")
    one_line_error(invoke("classify", "--targets", path, "--out", tmp_path / "o.ecsv", "--resolve-only"),
                   "row 2", "'xx'")  # fmt: skip
    table = Table({"ra": MaskedColumn([1.0, 2.0], mask=[False, True]), "dec": [0.0, 1.0]})
    with pytest.raises(GalcatError, match="row 2"):
        write_table(table, tmp_path / "x.hats")
    table = Table({"ra": [1.0, np.nan], "dec": [0.0, 1.0]})
    with pytest.raises(GalcatError, match="row 2"):
        finite_positions(table)


def test_crossmatch_and_audit_read_what_classify_reads(tmp_path):
    """One reader: a CSV with a BOM, CRLF line ends and VizieR-style sexagesimal RAJ2000/DEJ2000 (and
    ids with leading zeros) is read by classify, crossmatch and audit alike."""
    rows = [("007", "12 39 59.43", "-11 37 23.0", "E"), ("042", "00 42 44.3", "+41 16 09", "Sb")]
    mine = tmp_path / "mine.csv"
    mine.write_bytes(
        (
            "\ufeffobjid,RAJ2000,DEJ2000,hubble9\r\n" + "".join(f"{o},{r},{d},{h}\r\n" for o, r, d, h in rows)
        ).encode()
    )
    other = tmp_path / "other.ecsv"
    Table(
        {"objid": ["x", "y"], "ra": [189.997625, 10.6845833], "dec": [-11.6230556, 41.2691667],
         "hubble9": ["E", "Sa"]}
    ).write(other)  # fmt: skip
    before = digest(mine)
    result = invoke("classify", "--targets", mine, "--out", tmp_path / "r.ecsv", "--resolve-only")
    assert result.exit_code == 0, result.output
    assert list(read_table(tmp_path / "r.ecsv")["objid"]) == ["007", "042"]
    out = tmp_path / "pairs.ecsv"
    result = invoke("crossmatch", mine, other, "--radius", "2arcsec", "--out", out)
    assert result.exit_code == 0, result.output
    pairs = read_table(out)
    assert len(pairs) == 2 and sorted(pairs["objid_a"]) == ["007", "042"]
    assert np.allclose(sorted(pairs["separation"]), [0, 0], atol=0.01)
    renamed = tmp_path / "renamed.csv"  # audit matches on ra/dec by name
    renamed.write_bytes(mine.read_bytes().replace(b"RAJ2000,DEJ2000", b"ra,dec"))
    report = tmp_path / "audit"
    result = invoke("audit", renamed, other, "--by", "sky", "--out", report, "--bootstrap", "10")
    assert result.exit_code == 0, result.output
    assert (report / "audit.json").exists() and digest(mine) == before


def test_a_spreadsheets_unicode_text_export_is_read(tmp_path):
    """UTF-16 with a BOM, tab-separated, CRLF: what a spreadsheet's 'Unicode text' export writes."""
    path = tmp_path / "export.txt"
    path.write_bytes("name\tra\tdec\r\nM 51\t13:29:52.7\t+47:11:43\r\n".encode("utf-16"))
    table = read_targets(path)
    assert list(table["objid"]) == ["M 51"] and np.allclose(
        [table["ra"][0], table["dec"][0]], [202.4696, 47.1953], atol=1e-3
    )


def test_an_infinite_position_is_one_line_naming_it(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("name,ra,dec\na,12h39m59.43s,-11d37m23s\nb,inf,5\n")
    out = tmp_path / "o.ecsv"
    one_line_error(
        invoke("classify", "--targets", path, "--out", out, "--resolve-only"), "row 2", "'ra'", "finite"
    )
    assert not out.exists()


def test_a_table_format_that_cannot_hold_every_row_is_refused_first(names_csv, tmp_path):
    """HATS partitions by position, so rows without one cannot go there: refused before any work."""
    out = tmp_path / "out.hats"
    result = invoke("classify", "--targets", names_csv, "--out", out, "--resolve-only")
    one_line_error(result, "out.hats", ".fits")
    assert not out.exists()
