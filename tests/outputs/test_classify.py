"""`galcat classify`: a target list in, every row back with predictions or the reason why not.

The cutout test plays SDSS SkyServer from a local server with real Galaxy Zoo JPEG bytes at the
positions of a target list (sexagesimal strings), with about 20 % of the positions answering
faults first; the name test resolves NGC/IC names through OpenNGC offline.
"""

from __future__ import annotations

import re
import subprocess

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from helpers.cli import invoke
from helpers.faulty_server import FaultyImageServer, grey_jpeg, position_key, random_fault_plan

from galcat.catalogues.targets import read_targets
from galcat.net import HttpConfig
from galcat.outputs.classify import ClassifyConfig, classify_targets
from galcat.tables import read_table

N_IMAGES = 24
BLANK_ROW = 5  # 0-based row of the target list whose position is outside the footprint
FAST = HttpConfig(
    timeout=1.0, total_timeout=2.0, retries=5, backoff=0.001, max_backoff=0.01, max_retry_after=0.01
)
QUICK_FAULTS = ("500", "503", "429", "truncated", "short", "html", "json", "reset")


@pytest.fixture()
def sky_targets(shared_data, tmp_path):
    """A target list: 24 positions as sexagesimal strings + 1 name nobody can resolve."""
    files = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[100 : 100 + N_IMAGES]
    ra = Angle((150.0 + 0.05 * np.arange(N_IMAGES)) * u.deg).to_string(unit=u.hourangle, sep=":", precision=3)
    dec = Angle((2.0 + 0.03 * np.arange(N_IMAGES)) * u.deg).to_string(sep=":", precision=2, alwayssign=True)
    names = [f"G{i:02d}" for i in range(N_IMAGES)]
    lines = [f"{n},{a},{d},{i * 0.5}" for i, (n, a, d) in enumerate(zip(names, ra, dec, strict=True))]
    path = tmp_path / "targets.csv"
    path.write_text("name,ra,dec,mag\n" + "\n".join([*lines, "Nowhere 1,,,3.0"]) + "\n")
    table = read_targets(path)
    keys = [position_key(r, d) for r, d in zip(table["ra"][:N_IMAGES], table["dec"][:N_IMAGES], strict=True)]
    blank = {keys[BLANK_ROW]}
    images = {k: f.read_bytes() for k, f in zip(keys, files, strict=True) if k not in blank}
    faults = random_fault_plan(sorted(images), fraction=0.2, seed=3, kinds=QUICK_FAULTS)
    return path, names, files, keys, images, blank, faults


def _config(path, out, run, url, **kw):
    return ClassifyConfig(
        model=str(run), targets=str(path), out=str(out), base_url=url, pixels=423, http=FAST, workers=4, **kw
    )


def test_classify_through_a_faulty_skyserver(sky_targets, tiny, tmp_path, monkeypatch, require_tool):
    path, names, files, keys, images, blank, faults = sky_targets
    run, synth = tiny
    monkeypatch.setenv("GALCAT_CACHE_DIR", str(tmp_path / "cache"))
    assert 3 <= len(faults) <= 8  # about 20 % of the 23 good positions answer faults first
    out = tmp_path / "classified.fits"
    with FaultyImageServer(images, faults=faults, blank=blank) as server:
        server.blank_bytes = grey_jpeg(423)  # out of the footprint: a grey cutout of the asked size
        result = classify_targets(_config(path, out, run, server.url))
        n_requests = len(server.log)
        assert n_requests == N_IMAGES + sum(len(v) for v in faults.values())  # one retry per fault

        table = read_table(out)
        assert len(table) == N_IMAGES + 1 and list(table["name"]) == [*names, "Nowhere 1"]
        assert list(table["mag"]) == [i * 0.5 for i in range(N_IMAGES)] + [3.0]  # user columns as given
        status = [str(s) for s in table["classify_status"]]
        ok = [i for i in range(N_IMAGES) if i != BLANK_ROW]
        assert [status[i] for i in ok] == ["ok"] * len(ok)
        assert status[BLANK_ROW].startswith("blank cutout") and status[-1].startswith("no position")
        pred = table["pred_hubble9"]
        assert not np.ma.getmaskarray(pred)[ok].any() and np.ma.getmaskarray(pred)[[BLANK_ROW, -1]].all()
        assert result.n_classified == len(ok) and result.failures == {"blank cutout": 1, "no position": 1}
        assert sum(result.class_counts.values()) == len(ok)
        assert len(str(table["knn_ids"][0]).split(",")) == 10 and table["knn_dists"].shape == (
            N_IMAGES + 1,
            10,
        )

        assert not list(tmp_path.glob(".classified.fits.galcat-work*"))  # the temporary store is gone
        again = classify_targets(_config(path, tmp_path / "again.fits", run, server.url))
        assert len(server.log) == n_requests  # everything came from the cache
        assert list(again.table["classify_status"]) == list(result.table["classify_status"])

    # the same images as a local folder -> `galcat build folder` -> `galcat embed`: same predictions
    folder = tmp_path / "same_images"
    folder.mkdir()
    for i in ok:
        (folder / f"{names[i]}.jpeg").symlink_to(files[i])
    ids = tmp_path / "ids.csv"
    ids.write_text("name\n" + "\n".join(names[i] for i in ok) + "\n")
    store = tmp_path / "same.h5"
    built = invoke("build", "folder", "--images", folder, "--catalogue", ids, "--size", 32, "--out", store)
    assert built.exit_code == 0, built.output
    embedded = tmp_path / "embedded.fits"
    done = invoke("embed", "--model", run, "--store", store, "--reference", synth, "--out", embedded)
    assert done.exit_code == 0, done.output
    embed = read_table(embedded)
    assert list(embed["objid"]) == [names[i] for i in ok]
    assert list(embed["pred_hubble9"]) == [str(table["pred_hubble9"][i]) for i in ok]
    probs = [c for c in embed.colnames if c.startswith("p_")]
    for col in [*probs, "embedding", "knn_dists"]:
        assert np.allclose(np.asarray(embed[col]), np.asarray(table[col])[ok], atol=1e-5), col
    assert list(embed["knn_ids"]) == [str(table["knn_ids"][i]) for i in ok]

    # STILTS matches every classified row back to the input list within 1 arcsec, same name
    stilts = require_tool("stilts")
    match = tmp_path / "match.fits"
    subprocess.run(
        [stilts, "tmatch2", f"in1={out}", f"in2={path}", "ifmt2=csv", "matcher=sky", "params=1",
         "values1=ra_icrs dec_icrs", "values2=hmsToDegrees(ra) dmsToDegrees(dec)", "join=1and2",
         "find=best", f"out={match}", "ocmd=keepcols 'name_1 name_2 classify_status'"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pairs = read_table(match)
    assert sorted(pairs["name_1"]) == sorted(names) and list(pairs["name_1"]) == list(pairs["name_2"])
    assert sum(str(s) == "ok" for s in pairs["classify_status"]) == len(ok)


def merger_folder(shared_data, tmp_path):
    """The NGC/IC-named Galaxy Zoo Mergers systems: a name list, and their images named by name."""
    lines = (shared_data / "sdss" / "mergers" / "target_info.txt").read_text().splitlines()[1:]
    folder = tmp_path / "merger_images"
    folder.mkdir()
    rows = []
    for fields in (line.split("\t") for line in lines if line.strip()):
        named = [n.strip() for n in fields[4].split(",") if re.match(r"^(NGC|IC)\d+$", n.strip())]
        if named:
            rows.append((named[0], float(fields[2]), float(fields[3])))
            target = shared_data / "sdss" / "mergers" / "targets" / f"{fields[1]}_tgt.png"
            (folder / f"{named[0].lower()}.png").symlink_to(target)  # lower case: matched case-insensitively
    path = tmp_path / "mergers.csv"
    path.write_text("name,note\n" + "".join(f"{n},merger\n" for n, _, _ in rows) + "NGC 99999,bogus\n")
    return path, folder, rows


def test_ngc_names_resolved_offline_and_classified_from_a_folder(shared_data, tiny, tmp_path):
    path, folder, rows = merger_folder(shared_data, tmp_path)
    run, _ = tiny
    out = tmp_path / "mergers.ecsv"
    result = invoke(
        "classify", "--model", run, "--targets", path, "--images", folder, "--out", out,
        "--resolver", f"openngc:{shared_data / 'openngc'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{len(rows) + 1} rows, {len(rows)} classified, 1 not" in result.output
    assert "predicted: " in result.output and "not classified (unresolved name): 1 rows" in result.output
    assert "row 32: unresolved name: name 'NGC 99999' not found by openngc" in result.output
    table = read_table(out)
    assert list(table["name"]) == [n for n, _, _ in rows] + ["NGC 99999"]
    assert list(table["classify_status"][:-1]) == ["ok"] * len(rows)
    assert set(table["position_source"][:-1]) == {"openngc"} and np.ma.getmaskarray(table["ra_icrs"])[-1]
    found = SkyCoord(np.asarray(table["ra_icrs"][:-1]) * u.deg, np.asarray(table["dec_icrs"][:-1]) * u.deg)
    truth = SkyCoord([r[1] for r in rows] * u.deg, [r[2] for r in rows] * u.deg)
    assert (found.separation(truth).arcsec < 10).sum() >= 0.8 * len(rows)
    assert table["image_origin"][0].endswith(f"{rows[0][0].lower()}.png")


def test_bad_requests_fail_before_any_work(tiny, tmp_path):
    run, _ = tiny
    targets = tmp_path / "t.csv"
    targets.write_text("name,ra,dec\nA,10,20\n")
    result = invoke("classify", "--model", run, "--targets", targets, "--out", tmp_path / "x.csv")
    assert result.exit_code == 2 and "CSV cannot hold the embedding" in result.output
    result = invoke("classify", "--model", run, "--targets", targets, "--out", tmp_path / "x.fits",
                    "--service", "dss")  # fmt: skip
    assert result.exit_code == 2 and "--service 'dss'" in result.output


@pytest.mark.timeout(300)
def test_classify_samp_sends_to_topcat(topcat_hub, shared_data, tiny, tmp_path, monkeypatch):
    path, folder, _ = merger_folder(shared_data, tmp_path)
    run, _ = tiny
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{topcat_hub.as_uri()}")
    out = tmp_path / "mergers.vot"
    result = invoke("classify", "--model", run, "--targets", path, "--images", folder, "--out", out, "--samp")
    assert result.exit_code == 0, result.output
    assert "sent" in result.output and out.exists()


def test_a_k_fold_run_adds_the_ensemble_uncertainty_columns(shared_data, tiny_folds, tmp_path):
    """Classify predicts with the same fold ensemble as embed: spread, entropy and agreement per row."""
    path, folder, rows = merger_folder(shared_data, tmp_path)
    run, _ = tiny_folds
    out = tmp_path / "mergers.parquet"
    result = classify_targets(
        ClassifyConfig(model=str(run), targets=str(path), out=str(out), images=str(folder), k=3)
    )
    table = read_table(out)
    assert result.n_classified == len(rows) and len(table) == len(rows) + 1
    for column in ("pred_entropy", "pred_agreement", "p_E_std", "knn_dists"):
        assert column in table.colnames, column
        assert np.ma.getmaskarray(table[column])[-1].all() and not np.ma.getmaskarray(table[column])[0].any()
    agreement = np.asarray(table["pred_agreement"][:-1], dtype=float)
    assert set(np.round(agreement, 3)) <= {0.5, 1.0}  # two folds: they agree or they split
    assert "2" in str(table.meta.get("classify_n_folds"))
