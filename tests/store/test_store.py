"""Store writer/reader, preprocessing, verify, info and the xarray view (synthetic, fast)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import h5py
import numpy as np
import pytest
from helpers.store_support import synthetic_catalogue, synthetic_images
from PIL import Image
from typer.testing import CliRunner

from galcat.cli import app
from galcat.errors import GalcatError
from galcat.store import PreprocessConfig, open_dataset, open_store, preprocess, verify_store, write_store
from galcat.store.preprocess import crop_size_for

runner = CliRunner()


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, synthetic_catalogue(50), synthetic_images(50), config=PreprocessConfig(size=40))
    return path


def test_round_trip_images_catalogue_labels_targets(store_path):
    table, images = synthetic_catalogue(50), synthetic_images(50)
    store = open_store(store_path)
    assert len(store) == 50 and store.image_shape == (40, 40, 3)
    assert np.array_equal(store.read_images(slice(None)), images)
    cat = store.catalogue
    assert list(cat["objid"]) == list(table["objid"]) and cat["objid"].dtype.kind == "U"
    assert cat["ra"].mask[3] and not cat["ra"].mask[4] and str(cat["ra"].unit) == "deg"
    assert cat["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert list(cat["hubble9"].mask) == list(table["hubble9"].mask)
    assert cat.meta["label_params"] == {"seed": 0}
    codes = store.label_codes("hubble9")
    assert store.schemes == ["hubble9"] and store.class_names("hubble9")[0] == "E"
    assert codes.dtype == np.int64 and codes[7] == -1 and codes[17] == -1
    assert codes[0] == 0 and codes[8] == store.class_names("hubble9").index("Sc")
    votes = store.targets("votes")
    assert votes.dtype == np.float32 and votes.shape == (50, 2)
    assert np.allclose(votes[:, 0], table["t01_a01"])
    assert store.target_names("votes") == ["t01_a01", "t01_a02"]
    assert store.provenance("status") == ["ok"] * 50
    attrs = store.attrs
    assert attrs["schema_version"] == 1 and attrs["galcat_version"] and attrs["created"]
    assert json.loads(attrs["config"])["size"] == 40


def test_read_images_index_forms(store_path):
    images = synthetic_images(50)
    store = open_store(store_path)
    for idx in ([0, 1, 2, 30], [5, 3, 3, 49, 10], np.arange(16, 40)):
        assert np.array_equal(store.read_images(np.asarray(idx)), images[idx])
    assert np.array_equal(store.read_images(slice(10, 20)), images[10:20])
    assert store.read_images(np.array([], dtype=int)).shape == (0, 40, 40, 3)
    with pytest.raises(GalcatError, match="out of range"):
        store.read_images(np.array([50]))


def test_fingerprint_depends_on_pixels(tmp_path, store_path):
    images = synthetic_images(50)
    images[10, 0, 0, 0] ^= 1
    other = write_store(tmp_path / "o.h5", synthetic_catalogue(50), images)
    same = write_store(tmp_path / "same.h5", synthetic_catalogue(50), synthetic_images(50))
    assert open_store(same).fingerprint == open_store(store_path).fingerprint
    assert open_store(other).fingerprint != open_store(store_path).fingerprint


def test_store_pickles_and_reopens_in_another_process(store_path, tmp_path):
    store = open_store(store_path)
    store.read_images(slice(0, 2))  # opens the handle, which must not be pickled
    blob = tmp_path / "store.pkl"
    blob.write_bytes(pickle.dumps(store))
    code = (
        "import pickle,sys; s=pickle.load(open(sys.argv[1],'rb')); "
        "print(len(s), int(s.read_images(slice(5,6)).sum()))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(blob)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["50", str(int(synthetic_images(50)[5].sum()))]


def test_existing_store_is_not_overwritten(store_path):
    with pytest.raises(GalcatError, match="overwrite"):
        write_store(store_path, synthetic_catalogue(5), synthetic_images(5))
    assert len(open_store(store_path)) == 50
    write_store(store_path, synthetic_catalogue(5), synthetic_images(5), overwrite=True)
    assert len(open_store(store_path)) == 5


def test_partial_and_incomplete_files_are_refused(tmp_path, store_path):
    partial = tmp_path / "x.h5.partial"
    partial.write_bytes(store_path.read_bytes())
    with pytest.raises(GalcatError, match="partial"):
        open_store(partial)
    incomplete = tmp_path / "inc.h5"
    incomplete.write_bytes(store_path.read_bytes())
    with h5py.File(incomplete, "r+") as f:
        del f.attrs["complete"]
    with pytest.raises(GalcatError, match="not a complete"):
        open_store(incomplete)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(GalcatError, match="not a readable"):
        open_store(junk)


def test_write_store_rejects_bad_input(tmp_path):
    with pytest.raises(GalcatError, match="rows"):
        write_store(tmp_path / "a.h5", synthetic_catalogue(3), synthetic_images(4))
    with pytest.raises(GalcatError, match="uint8"):
        write_store(tmp_path / "b.h5", synthetic_catalogue(3), synthetic_images(3).astype(np.float32))
    assert not list(tmp_path.iterdir())  # no temp files left behind


def test_preprocess_matches_centre_crop_then_pil_resize():
    image = synthetic_images(1, size=424)[0]
    crop = Image.fromarray(image[100:324, 100:324])
    expected = np.asarray(crop.resize((75, 75), Image.Resampling.BILINEAR))
    out = preprocess(image)
    assert out.dtype == np.uint8 and out.shape == (75, 75, 3)
    assert np.array_equal(out, expected)
    assert np.array_equal(preprocess(image), out)  # deterministic


def test_preprocess_other_sizes_crop_the_same_fraction():
    cfg = PreprocessConfig()
    assert [crop_size_for(side, cfg) for side in (424, 423, 255)] == [224, 223, 135]
    assert crop_size_for(255, PreprocessConfig(crop_relative=False)) == 224
    assert crop_size_for(255, PreprocessConfig(crop=0)) == 255
    grey = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    out = preprocess(grey, {"crop": 0, "size": 64})
    assert out.shape == (64, 64, 3) and np.array_equal(out[:, :, 0], grey)
    with pytest.raises(GalcatError, match="uint8"):
        preprocess(np.zeros((8, 8, 3), np.float32))


def corrupt_chunk(path, chunk_index: int) -> tuple[int, int]:
    """Flip bytes in the middle of one raw images chunk on disk; return its row range."""
    with h5py.File(path, "r") as f:
        ds = f["images"]
        info = ds.id.get_chunk_info(chunk_index)
        rows = ds.chunks[0]
    start = info.chunk_offset[0]
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        data = bytearray(fh.read(64))
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes(b ^ 0xFF for b in data))
    return start, start + rows - 1


def test_verify_passes_then_catches_a_corrupted_chunk(store_path):
    assert verify_store(store_path).ok
    ok = runner.invoke(app, ["info", str(store_path), "--verify"])
    assert ok.exit_code == 0, ok.output
    assert "verify: ok (50 rows checked)" in ok.output
    first, last = corrupt_chunk(store_path, 1)
    report = verify_store(store_path)
    assert not report.ok
    assert f"rows {first}-{last}" in report.problems[0] or report.bad_rows[0] >= first
    assert all(first <= r <= last for r in report.bad_rows) and report.bad_rows
    bad = runner.invoke(app, ["info", str(store_path), "--verify"])
    assert bad.exit_code == 2
    assert "verify: FAILED" in bad.stdout and f"{store_path}: damaged store" in bad.stderr
    assert f"row {report.bad_rows[0]}" in bad.stderr


def test_info_prints_counts_and_config(store_path):
    result = runner.invoke(app, ["info", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "50 x (40, 40, 3)" in result.output
    assert "labels[hubble9]" in result.output and "(unlabelled)   5" in result.output
    assert "provenance   ok=50" in result.output
    as_json = runner.invoke(app, ["info", str(store_path), "--json"])
    assert json.loads(as_json.output)["labels"]["hubble9"]["E"] == 5  # rows 0,9,18,36,45 (27 masked)


def test_info_on_a_missing_or_partial_store_is_a_one_line_error(tmp_path, store_path):
    result = runner.invoke(app, ["info", str(tmp_path / "nope.h5")])
    assert result.exit_code == 2
    assert "no such store" in result.output
    partial = tmp_path / "s2.h5.partial"
    partial.write_bytes(store_path.read_bytes())
    refused = runner.invoke(app, ["info", str(partial), "--verify"])
    assert refused.exit_code == 2 and "unfinished build" in refused.output


def test_xarray_round_trip(store_path):
    table, images = synthetic_catalogue(50), synthetic_images(50)
    ds = open_dataset(store_path)
    assert ds["images"].dims == ("galaxy", "y", "x", "band")
    assert np.array_equal(ds["images"].values, images)
    assert list(ds["objid"].values) == list(table["objid"])
    assert np.isnan(ds["ra"].values[3]) and np.isclose(ds["ra"].values[4], table["ra"][4])
    assert ds["hubble9"].values[7] == "" and ds["hubble9"].values[0] == "E"
    assert ds["targets_votes"].shape == (50, 2)
    assert int(ds["label_hubble9"].values[7]) == -1
    # a scalar coordinate selects galaxies the xarray way
    assert int((ds["hubble9"] == "E").sum()) == 5
