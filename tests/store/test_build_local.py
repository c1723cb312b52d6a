"""build_store from a local image archive: row policy, provenance, preprocessing, resume rules."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from astropy.table import Table
from helpers.store_support import local_source, synthetic_catalogue, write_image_folder
from PIL import Image

from galcat.errors import GalcatError
from galcat.store import BuildConfig, PreprocessConfig, build_store, open_store, preprocess
from galcat.store.partial import PartialBuild


@pytest.fixture
def archive(tmp_path):
    table = synthetic_catalogue(30)
    folder = write_image_folder(tmp_path / "img", list(table["objid"]), size=60, skip={"G0004", "G0011"})
    return table, folder


def test_build_stores_ok_rows_in_catalogue_order_and_lists_failures(tmp_path, archive):
    table, folder = archive
    out = tmp_path / "stores" / "syn.h5"
    cfg = BuildConfig(name="synthetic", workers=3, preprocess=PreprocessConfig(crop=0, size=32))
    summary = build_store(table, local_source(folder), out, cfg)
    assert (summary.n_rows, summary.n_stored, summary.n_failed) == (30, 28, 2)
    assert summary.status_counts.get("ok", 0) + summary.status_counts.get("cached", 0) == 28
    store = open_store(out)
    expected_ids = [o for o in table["objid"] if o not in ("G0004", "G0011")]
    assert list(store.catalogue["objid"]) == expected_ids
    # labels and votes stay row-aligned with the kept rows
    kept = np.array([o not in ("G0004", "G0011") for o in table["objid"]])
    assert np.allclose(store.targets("votes")[:, 0], np.asarray(table["t01_a01"])[kept])
    for row in (0, 5, 27):
        path = folder / f"{expected_ids[row]}.png"
        with Image.open(path) as im:
            raw = np.asarray(im.convert("RGB"))
        assert np.array_equal(store.read_images(slice(row, row + 1))[0], preprocess(raw, cfg.preprocess))
        assert store.provenance("sha256")[row] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert expected_ids[row] in store.provenance("source")[row]
    failures = Table.read(summary.failures_path, format="ascii.ecsv")
    assert summary.failures_path.name == "syn.failures.ecsv"
    assert list(failures["objid"]) == ["G0004", "G0011"] and list(failures["row"]) == [4, 11]
    assert set(failures["status"]) <= {"failed", "blank", "missing"}
    assert not PartialBuild(out).exists() and not PartialBuild(out).journal.exists()
    assert open_store(out).attrs["build_summary"]
    assert store.config["preprocess"]["crop"] == 0 and store.config["preprocess"]["size"] == 32


def test_build_refuses_existing_store_without_overwrite(tmp_path, archive):
    table, folder = archive
    out = tmp_path / "s.h5"
    build_store(table[12:17], local_source(folder), out, BuildConfig(preprocess=PreprocessConfig(size=16)))
    with pytest.raises(GalcatError, match="overwrite"):
        build_store(
            table[12:18], local_source(folder), out, BuildConfig(preprocess=PreprocessConfig(size=16))
        )
    assert len(open_store(out)) == 5
    build_store(
        table[12:18],
        local_source(folder),
        out,
        BuildConfig(overwrite=True, preprocess=PreprocessConfig(size=16)),
    )
    assert len(open_store(out)) == 6


def test_resume_with_a_different_config_is_a_clear_error(tmp_path, archive):
    table, folder = archive
    out = tmp_path / "s.h5"
    part = PartialBuild(out)
    from galcat.store.build import _identity

    part.create(len(table), (16, 16, 3), _identity(table, BuildConfig(preprocess=PreprocessConfig(size=16))))
    with pytest.raises(GalcatError, match="different config"):
        build_store(table, local_source(folder), out, BuildConfig(preprocess=PreprocessConfig(size=24)))
    assert part.exists()  # nothing was thrown away
    # the same config resumes (runtime-only fields such as workers may differ)
    summary = build_store(
        table, local_source(folder), out, BuildConfig(workers=1, preprocess=PreprocessConfig(size=16))
    )
    assert summary.n_stored == 28 and not part.exists()


def test_limit_and_empty_selection(tmp_path, archive):
    table, folder = archive
    summary = build_store(
        table,
        local_source(folder),
        tmp_path / "l.h5",
        BuildConfig(limit=7, preprocess=PreprocessConfig(size=16)),
    )
    assert summary.n_rows == 7 and summary.n_stored == 6  # G0004 has no image
    with pytest.raises(GalcatError, match="positive"):
        build_store(
            table,
            local_source(folder),
            tmp_path / "z.h5",
            BuildConfig(limit=0, preprocess=PreprocessConfig(size=16)),
        )


def test_exclude_removes_objects_of_another_catalogue(tmp_path, archive):
    table, folder = archive
    other = table[[0, 1, 2]]
    other["ra"] = other["ra"] + 1e-4  # within a few arcsec
    summary = build_store(
        table,
        local_source(folder),
        tmp_path / "x.h5",
        BuildConfig(preprocess=PreprocessConfig(size=16)),
        exclude=other,
    )
    assert summary.excluded == 3
    assert not {"G0000", "G0001", "G0002"} & set(open_store(tmp_path / "x.h5").catalogue["objid"])


def test_keep_original_stores_raw_size_images(tmp_path, archive):
    table, folder = archive
    out = tmp_path / "o.h5"
    build_store(
        table[:4],
        local_source(folder),
        out,
        BuildConfig(keep_original=True, preprocess=PreprocessConfig(size=16)),
    )
    store = open_store(out)
    assert store.has_original and store.file["original"].shape == (4, 60, 60, 3)
    with Image.open(folder / "G0002.png") as im:
        raw = np.asarray(im.convert("RGB"))
    assert np.array_equal(store.read_images(slice(2, 3), dataset="original")[0], raw)


# -- real local archives through the CLI ------------------------------------------------------


def _cli(*args):
    from typer.testing import CliRunner

    from galcat.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_builds_gz1_folder_subset(tmp_path, shared_data):
    gz1 = shared_data / "gz1"
    out = tmp_path / "gz1.h5"
    args = ["--images", gz1 / "images", "--catalogue", gz1 / "labels.csv", "--id-column", "OBJID"]
    result = _cli("build", "folder", *args, "--label-column", "class_name", "--limit", 120, "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "120 of 120 rows" in result.output
    store = open_store(out)
    assert len(store) == 120 and store.image_shape == (75, 75, 3)
    labels = Table.read(gz1 / "labels.csv", format="ascii.csv")[:120]
    assert list(store.catalogue["objid"]) == [str(o) for o in labels["OBJID"]]
    names = store.class_names("class_name")
    assert [names[c] for c in store.label_codes("class_name")] == list(labels["class_name"])
    first = gz1 / "images" / f"{labels['OBJID'][0]}.jpeg"
    with Image.open(first) as im:
        raw = np.asarray(im.convert("RGB"))
    assert raw.shape == (423, 423, 3)  # GZ1 cutouts: 423 px, so 223 px are cropped (224/424)
    assert np.array_equal(store.read_images(slice(0, 1))[0], preprocess(raw))
    assert store.provenance("sha256")[0] == hashlib.sha256(first.read_bytes()).hexdigest()
    info = _cli("info", out, "--verify")
    assert info.exit_code == 0 and "verify: ok (120 rows checked)" in info.output
    assert "elliptical" in info.output
    again = _cli("build", "folder", *args, "--label-column", "class_name", "--limit", 120, "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_cli_builds_gz2_kaggle_subset(tmp_path, shared_data):
    kaggle = shared_data / "gz2" / "kaggle"
    out = tmp_path / "k.h5"
    result = _cli(
        "build", "folder", "--images", kaggle / "images", "--catalogue", kaggle / "labels.csv",
        "--id-column", "GalaxyID", "--label-column", "label", "--limit", 80, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = open_store(out)
    assert len(store) == 80 and store.class_names("label") == ["non_spiral", "spiral"]
    assert set(store.label_codes("label")) <= {0, 1}
    assert store.config["preprocess"]["crop"] == 224 and store.config["limit"] == 80


def test_cli_builds_the_15_efigi_pngs_with_efigi_labels(tmp_path, shared_data):
    efigi = shared_data / "efigi"
    out = tmp_path / "efigi15.h5"
    result = _cli(
        "build", "efigi", "--images", efigi / "png", "--catalogue", efigi / "EFIGI_attributes.txt",
        "--present-only", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "without an image file skipped" in result.output
    store = open_store(out)
    pngs = sorted(p.stem for p in (efigi / "png").glob("PGC*.png"))
    assert len(store) == 15 and sorted(store.catalogue["objid"]) == pngs
    assert "hubble9" in store.schemes
    assert (store.label_codes("hubble9") >= 0).sum() >= 10
    assert store.provenance("status") == ["ok"] * 15
    assert store.file.attrs["build_summary"] and not (tmp_path / "efigi15.failures.ecsv").exists()


def test_cli_errors_are_one_line_exit_2(tmp_path, shared_data):
    result = _cli("build", "folder", "--catalogue", shared_data / "gz1" / "labels.csv", "--present-only",
                  "--service", "skyserver", "--id-column", "OBJID", "--out", tmp_path / "x.h5")  # fmt: skip
    assert result.exit_code == 2 and "galcat: error:" in result.output
    missing = _cli("build", "folder", "--images", tmp_path / "nope", "--catalogue", tmp_path / "nope.csv")
    assert missing.exit_code == 2


def test_cli_builds_from_a_catalogue_file_and_excludes_another(tmp_path, shared_data):
    from galcat.catalogues import read_catalogue
    from galcat.tables import write_table

    efigi = shared_data / "efigi"
    table = read_catalogue("efigi", efigi / "EFIGI_attributes.txt")
    pngs = {p.stem for p in (efigi / "png").glob("PGC*.png")}
    subset = table[[str(o) in pngs for o in table["objid"]]]
    write_table(subset, tmp_path / "efigi15.ecsv")
    write_table(subset[:4], tmp_path / "test_set.ecsv")
    out = tmp_path / "ex.h5"
    result = _cli(
        "build", "efigi", "--catalogue", tmp_path / "efigi15.ecsv", "--images", efigi / "png",
        "--exclude", tmp_path / "test_set.ecsv", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 excluded" in result.output
    store = open_store(out)
    assert len(store) == 11 and not set(subset["objid"][:4]) & set(store.catalogue["objid"])
    assert store.config["exclude"].endswith("test_set.ecsv")
    assert "hubble9" in store.schemes  # label schemes survive the catalogue file
