"""`galcat embed` and `galcat neighbours` end to end with a tiny real model (resnet18, 32 px, 1 epoch)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits, votable
from astropy.table import Table
from helpers.cli import invoke

import galcat.outputs.embed as embed_module
from galcat.schemes import HUBBLE9
from galcat.store import open_store
from galcat.tables import read_table


def test_embed_every_format_with_reference(tiny, tmp_path):
    run, store = tiny

    catalogue = open_store(store).catalogue
    for ext in ("fits", "vot", "ecsv", "parquet", "h5"):
        out = tmp_path / f"cat.{ext}"
        result = invoke(
            "embed", "--model", run, "--store", store, "--reference", store, "--k", 5, "--out", out
        )
        assert result.exit_code == 0, result.output
        table = read_table(out)
        assert list(table["objid"]) == list(catalogue["objid"]), ext  # catalogue order and ids kept
        for name in ("embedding", "pred_hubble9", "pred_prob", "p_E", "p_SBa", "knn_hubble9", "knn_dist",
                     "nn_objid", "anomaly_score"):  # fmt: skip
            assert name in table.colnames, (ext, name)
        assert table["embedding"].shape == (len(catalogue), 16)
        assert set(table["pred_hubble9"]) <= set(HUBBLE9) and set(table["knn_hubble9"]) <= set(HUBBLE9)
        assert np.all(np.asarray(table["nn_objid"]) != np.asarray(table["objid"]))  # self excluded
        assert np.all(np.asarray(table["knn_dist"]) > 0)
        assert np.all(np.asarray(table["anomaly_score"]) >= np.asarray(table["knn_dist"]) - 1e-6)
    with fits.open(tmp_path / "cat.fits") as hdul:
        header = hdul[1].header
        ucds = {header[f"TTYPE{i}"]: header.get(f"TUCD{i}") for i in range(1, header["TFIELDS"] + 1)}
        assert hdul[1].columns["ra"].unit == "deg"
    assert ucds["ra"] == "pos.eq.ra;meta.main" and ucds["dec"] == "pos.eq.dec;meta.main"
    assert ucds["pred_hubble9"] == "meta.code.class;src.morph.type" and ucds["p_SBa"] == "stat.probability"
    fields = {f.name: f for f in votable.parse_single_table(str(tmp_path / "cat.vot")).fields}
    assert fields["knn_dist"].ucd and fields["nn_objid"].ucd == "meta.id.cross"
    assert votable.validate(str(tmp_path / "cat.vot"), output=None)
    result = invoke("embed", "--model", run, "--store", store, "--out", tmp_path / "cat.fits")
    assert result.exit_code == 2 and "--overwrite" in result.output


def test_predictions_follow_the_rows_asked_for(tiny):
    """predict() answers in the order of the rows asked for, whatever order its loader reads them in:
    embed, evaluate and the ensemble rely on that instead of re-sorting."""
    run, store = tiny
    from galcat.model import load_run
    from galcat.model.inference import predict
    from galcat.store import open_store

    fold = load_run(run).folds[0]
    with open_store(store) as opened:
        rows = np.arange(len(opened))
    shuffled = np.random.default_rng(0).permutation(rows)
    in_order = predict(fold.model, store, indices=rows, batch_size=3)
    asked = predict(fold.model, store, indices=shuffled, batch_size=3)
    assert asked.index.tolist() == shuffled.tolist()
    np.testing.assert_allclose(asked.embeddings, in_order.embeddings[shuffled], atol=1e-5)
    np.testing.assert_allclose(asked.probs, in_order.probs[shuffled], atol=1e-6)


def test_reference_index_is_saved_reused_and_rebuilt(tiny, tmp_path, monkeypatch):
    from galcat.synth import make_synthetic_store

    run, store = tiny
    ref = make_synthetic_store(tmp_path / "ref.h5", HUBBLE9, n_per_class=2, size=32, seed=11)
    calls = []
    real = embed_module.embed_store
    monkeypatch.setattr(
        embed_module, "embed_store", lambda *a, **k: calls.append(Path(a[1]).name) or real(*a, **k)
    )
    args = ["embed", "--model", run, "--store", store, "--reference", ref, "--out"]
    assert invoke(*args, tmp_path / "a.ecsv").exit_code == 0
    assert calls == [store.name, "ref.h5"]
    saved = sorted(p.name for p in tmp_path.glob("ref.h5.*"))
    assert any(n.endswith((".index", ".npy")) for n in saved) and any(n.endswith(".json") for n in saved)
    calls.clear()
    assert invoke(*args, tmp_path / "b.ecsv").exit_code == 0
    assert calls == [store.name]  # the reference embeddings came from the saved index
    a, b = read_table(tmp_path / "a.ecsv"), read_table(tmp_path / "b.ecsv")
    assert np.array_equal(a["nn_objid"], b["nn_objid"]) and set(a["nn_objid"]) <= set(
        open_store(ref).catalogue["objid"]
    )
    make_synthetic_store(ref, HUBBLE9, n_per_class=2, size=32, seed=12, overwrite=True)  # new content
    calls.clear()
    assert invoke(*args, tmp_path / "c.ecsv").exit_code == 0
    assert calls == [store.name, "ref.h5"]  # stale index (other fingerprint) rebuilt


def _store_like(path, catalogue: Table, images) -> Path:
    from galcat.store import write_store

    return write_store(path, catalogue, images)


@pytest.fixture()
def synthetic_parts():
    from galcat.synth import synthetic_catalogue_and_images

    return synthetic_catalogue_and_images(["E", "Sa", "Sc"], n_per_class=2, size=32, seed=7, votes=False)


def test_bad_inputs_give_one_line_and_exit_2(tiny, tmp_path, synthetic_parts):
    run, store = tiny
    table, images = synthetic_parts
    other = table.copy()
    other.meta["label_schemes"] = {"hubble9": ["E", "Sa", "Sc"]}  # a 3-class scheme under the same name
    mismatched = _store_like(tmp_path / "mismatch.h5", other, images)
    unlabelled_table = table.copy()
    unlabelled_table.remove_column("hubble9")
    unlabelled_table.meta["label_schemes"] = {}
    unlabelled = _store_like(tmp_path / "unlabelled.h5", unlabelled_table, images)
    empty = tmp_path / "empty.h5"
    shutil.copy(_store_like(tmp_path / "one.h5", table[:1], images[:1]), empty)
    with h5py.File(empty, "a") as f:  # the same store with its images removed
        del f["images"]
        f.create_dataset("images", shape=(0, 32, 32, 3), dtype=np.uint8)
    cases = [
        (["--store", mismatched], "do not match the model's classes"),
        (["--store", store, "--reference", unlabelled], "no labels for scheme 'hubble9'"),
        (["--store", empty], "empty"),
        (["--store", tmp_path / "missing.h5"], "not found"),
        (["--store", store, "--out", tmp_path / "x.txt"], "unknown table format"),
        (["--store", store, "--out", tmp_path / "nowhere" / "x.fits"], "output folder does not exist"),
        (["--store", store, "--fold", 3], "--fold 3 does not exist"),
    ]
    for args, message in cases:
        if "--out" not in args:
            args = [*args, "--out", tmp_path / "x.fits"]
        result = invoke("embed", "--model", run, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.fits").exists()
    # an unlabelled catalogue is fine to embed (that is the point), it just has no kNN columns
    result = invoke("embed", "--model", run, "--store", unlabelled, "--out", tmp_path / "u.vot")
    assert result.exit_code == 0, result.output
    assert "knn_hubble9" not in read_table(tmp_path / "u.vot").colnames


def test_neighbours_grid_by_objid_and_position(tiny, tmp_path):
    run, store = tiny

    catalogue = open_store(store).catalogue
    out = tmp_path / "nn.png"
    result = invoke(
        "neighbours",
        "--model",
        run,
        "--index",
        store,
        "--query",
        catalogue["objid"][2],
        "--k",
        11,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line[:3].strip().isdigit()]
    assert len(lines) == 11 and str(catalogue["objid"][2]) not in "".join(lines)
    distances = [float(line.split()[-1]) for line in lines]
    assert distances == sorted(distances)
    assert out.stat().st_size > 10_000
    ra, dec = float(catalogue["ra"][2]), float(catalogue["dec"][2])
    query = f"{ra + 1e-4} {dec}"
    by_position = invoke("neighbours", "--model", run, "--index", store, "--query", query, "--k", 11,
                         "--out", tmp_path / "nn2.png")  # fmt: skip
    assert by_position.exit_code == 0, by_position.output
    assert [line.split()[1] for line in lines] == [
        line.split()[1] for line in by_position.output.splitlines() if line[:3].strip().isdigit()
    ]
    bad = invoke(
        "neighbours", "--model", run, "--index", store, "--query", "NGC 1", "--out", tmp_path / "x.png"
    )
    assert bad.exit_code == 2 and "no --resolver" in bad.output


def test_embed_fits_passes_fitsverify_and_stilts_matches_every_row(tiny, tmp_path, require_tool):
    """Astronomers' tools accept the real output: fitsverify 0 errors, STILTS sky self-match of all rows."""
    import csv
    import subprocess

    from galcat.tables import write_table

    fitsverify, stilts = require_tool("fitsverify"), require_tool("stilts")
    run, store = tiny
    out, source = tmp_path / "embedded.fits", tmp_path / "input.fits"
    result = invoke("embed", "--model", run, "--store", store, "--reference", store, "--out", out)
    assert result.exit_code == 0, result.output
    catalogue = open_store(store).catalogue
    write_table(catalogue, source)
    check = subprocess.run([fitsverify, "-q", str(out)], capture_output=True, text=True, timeout=60)
    assert check.stdout.startswith("verification OK"), check.stdout  # 0 warnings, 0 errors
    matched = tmp_path / "match.csv"
    subprocess.run(
        [stilts, "tmatch2", f"in1={out}", f"in2={source}", "matcher=sky", "params=1",
         "values1=ucd$pos_eq_ra_ ucd$pos_eq_dec_", "values2=ra dec", "find=best", "join=1and2",
         f"out={matched}", "ofmt=csv", "progress=none"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with open(matched) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(catalogue)
    assert all(r["objid_1"] == r["objid_2"] for r in rows)


def test_reference_in_a_read_only_folder_keeps_its_index_in_the_user_cache(tiny, tmp_path, monkeypatch):
    """Shared read-only data: embed and neighbours finish, and the index goes to $GALCAT_CACHE_DIR/index."""
    import errno

    import galcat.atomic

    run, store = tiny
    shared = tmp_path / "shared"
    shared.mkdir()
    ref = Path(shutil.copy(store, shared / "ref.h5"))
    cache = tmp_path / "cache"
    monkeypatch.setenv("GALCAT_CACHE_DIR", str(cache))
    shared.chmod(0o555)
    real = galcat.atomic.temp_path_for

    def denied(path):  # root ignores the mode bits: refuse like a read-only mount would
        if Path(path).parent.resolve() == shared.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(galcat.atomic, "temp_path_for", denied)
    out = tmp_path / "a.ecsv"
    result = invoke("embed", "--model", run, "--store", store, "--reference", ref, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in shared.iterdir()) == ["ref.h5"]
    assert len(list((cache / "index").rglob("ref.h5.*.json"))) == 1
    assert "knn_hubble9" in read_table(out).colnames
    objid = str(open_store(ref).catalogue["objid"][0])
    result = invoke("neighbours", "--model", run, "--index", ref, "--query", objid, "--k", 3,
                    "--out", tmp_path / "grid.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").stat().st_size > 0
    shared.chmod(0o755)
