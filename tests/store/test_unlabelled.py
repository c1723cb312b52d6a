"""Stores without labels: folder CSVs without a label column, RSA name lists, user positions kept."""

from __future__ import annotations

import json

import numpy as np
from helpers.cli import invoke

from galcat.store import open_store
from galcat.tables import read_table


def _gz1_ids(shared_data, n):
    return sorted(p.stem for p in (shared_data / "gz1" / "images").glob("*.jpeg"))[:n]


def test_folder_without_labels_keeps_positions_and_reports_missing_images(shared_data, tmp_path):
    ids = _gz1_ids(shared_data, 6)
    csv = tmp_path / "mine.csv"
    rows = [f"{oid},12:30:{10 + i:02d}.5,+10:0{i}:00" for i, oid in enumerate(ids)] + ["999,1.5,2.5"]
    csv.write_text("OBJID,ra,dec\n" + "\n".join(rows) + "\n")
    out = tmp_path / "mine.h5"
    result = invoke(
        "build", "folder", "--images", shared_data / "gz1" / "images", "--catalogue", csv,
        "--size", 24, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 of 7 rows" in result.output and "1 without an image file" in result.output
    with open_store(out) as store:
        assert store.schemes == [] and list(store.catalogue["objid"]) == ids
        assert np.allclose(store.catalogue["ra"][0], (12 + 30 / 60 + 10.5 / 3600) * 15)
        assert list(store.catalogue["ra_input"][:2]) == ["12:30:10.5", "12:30:11.5"]
        assert json.loads(store.attrs["build_summary"])["no_image_file"] == 1
    failures = read_table(tmp_path / "mine.failures.ecsv")
    assert list(failures["objid"]) == ["999"] and "no image file" in failures["error"][0]
    info = invoke("info", out)
    assert info.exit_code == 0 and "1 without an image file reported as failed" in info.output
    assert "unlabelled store" in info.output


def test_rsa_name_list_without_type_builds_and_embeds(shared_data, tmp_path, tiny):
    """`galcat build rsa` with only Name,ra,dec; the unlabelled store works with embed and neighbours."""
    images = tmp_path / "img"
    images.mkdir()
    files = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[:4]
    for name, path in zip(["ngc0221", "ngc4321", "ic0749", "NGC7814"], files, strict=True):
        (images / f"{name}.jpeg").symlink_to(path)  # ids are NGC0221 ...: matched case-insensitively
    csv = tmp_path / "rsa.csv"
    csv.write_text(
        "Name,ra,dec\nNGC 221,10.6747,40.8652\nNGC 4321,185.7289,15.8223\nIC 749,179.6419,42.7340\n"
        "NGC 7814,0.8117,16.1454\n"
    )
    out = tmp_path / "rsa.h5"
    result = invoke("build", "rsa", "--catalogue", csv, "--images", images, "--size", 32, "--out", out)
    assert result.exit_code == 0, result.output
    assert "4 of 4 rows" in result.output
    with open_store(out) as store:
        assert list(store.catalogue["objid"]) == ["NGC0221", "NGC4321", "IC0749", "NGC7814"]
        assert np.allclose(store.catalogue["dec"], [40.8652, 15.8223, 42.7340, 16.1454])
        assert (store.label_codes("hubble11") == -1).all()
    run, _ = tiny
    embedded = tmp_path / "rsa_embedded.fits"
    result = invoke("embed", "--model", run, "--store", out, "--out", embedded)
    assert result.exit_code == 0, result.output
    assert len(read_table(embedded)) == 4
    result = invoke(
        "neighbours", "--model", run, "--index", out, "--query", "NGC 7814", "--k", 2,
        "--out", tmp_path / "nn.png",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "query NGC7814" in result.output and (tmp_path / "nn.png").exists()
