"""Hostile runs and outputs (issue 21): unfinished runs, refused commands that leave nothing,
--overwrite onto things galcat did not write, outputs of the wrong kind or outside --out, SAMP
without a hub, kept stores after a kill, damaged part files, and reports that say what they measured.

Each test checks the exit code, one stderr line without a traceback, the inputs byte-identical and
the output correct or absent."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers.cli import invoke, one_line_error
from PIL import Image

from galcat.tables import read_table

from .conftest import digest


@pytest.fixture
def folds_copy(tiny_folds, tmp_path):
    """A private copy of the session's 2-fold run (the store is only read)."""
    return shutil.copytree(tiny_folds[0], tmp_path / "run"), tiny_folds[1]


# ---- 11: a run that is not finished, or damaged, is refused unless --fold names finished folds ----


@pytest.mark.parametrize("damage", ["unfinished", "deleted", "damaged"])
def test_an_unfinished_or_damaged_run_is_refused_naming_the_fold(folds_copy, tmp_path, damage):
    run, store = folds_copy
    fold1 = run / "fold1"
    if damage == "unfinished":  # killed during fold 1: best.pt of some epoch, no result.json
        (fold1 / "result.json").unlink()
    elif damage == "deleted":
        (fold1 / "best.pt").unlink()
    else:
        (fold1 / "best.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    before = [digest(p) for p in (store, run / "config.json", run / "fold0" / "best.pt", fold1)]
    out = tmp_path / "e.fits"
    line = one_line_error(invoke("embed", "--model", run, "--store", store, "--out", out), "fold 1")
    assert "--fold 0" in line  # the way out is named
    assert not out.exists()
    one_line_error(invoke("evaluate", "--model", run, "--query", store, "--out", tmp_path / "r"), "fold 1")
    assert not (tmp_path / "r").exists()
    # an explicit --fold of a finished fold is used, and says so (stderr note, report line)
    done = invoke("embed", "--model", run, "--store", store, "--out", out, "--fold", 0)
    assert done.exit_code == 0, done.output
    assert "unfinished run" in done.stderr and "fold 1" in done.stderr
    assert read_table(out).meta["embed_folds"] == "0"
    report = tmp_path / "r0"
    args = ["--model", run, "--query", store, "--out", report, "--fold", 0, "--bootstrap", 0]
    done = invoke("evaluate", *args)
    assert done.exit_code == 0, done.output
    assert "**unfinished run**" in (report / "report.md").read_text()
    refused = invoke("embed", "--model", run, "--store", store, "--out", tmp_path / "x.fits", "--fold", 1)
    one_line_error(refused, "--fold 1", "fold 1")
    assert [digest(p) for p in (store, run / "config.json", run / "fold0" / "best.pt", fold1)] == before


def test_classify_refuses_an_unfinished_run_before_reading_targets(folds_copy, tmp_path):
    run, _ = folds_copy
    (run / "fold1" / "result.json").unlink()
    targets = tmp_path / "t.csv"
    targets.write_text("name,ra,dec\nA,10,20\n")
    before = digest(targets)
    out = tmp_path / "c.fits"
    one_line_error(invoke("classify", "--model", run, "--targets", targets, "--out", out), "fold 1")
    assert not out.exists() and not list(tmp_path.glob(".c.fits*")) and digest(targets) == before


# ---- 12: a command that fails its checks writes nothing; the corrected command just works ----


def test_train_that_fails_its_checks_leaves_no_config(tiny, tmp_path):
    from galcat.store import open_store, write_store

    _, store = tiny
    with open_store(store) as s:
        table, images = s.catalogue.copy(), s.read_images(slice(None))
    codes = np.asarray(table["hubble9"]).astype(str)
    keep = np.flatnonzero(codes != "E")
    keep = np.append(keep, np.flatnonzero(codes == "E")[:1])  # one E galaxy: too few to split
    lonely = tmp_path / "lonely.h5"
    write_store(lonely, table[np.sort(keep)], images[np.sort(keep)])
    out = tmp_path / "run"
    before = digest(lonely)
    args = ["train", "--store", lonely, "--stage", "ce", "--out", out, "--arch", "resnet18",
            "--image-size", 32, "--epochs", 1, "--batch-size", 16, "--embedding-dim", 16, "--folds", 1,
            "--device", "cpu"]  # fmt: skip
    line = one_line_error(invoke(*args), "--folds 1", "only 1 labelled row")
    assert "fewer folds" not in line  # no advice that cannot help at one fold
    assert not (out / "config.json").exists() and digest(lonely) == before
    args[2] = store  # the corrected command, same --out
    done = invoke(*args, "--schedule", "plateau", "--balance", "none")
    assert done.exit_code == 0, done.output
    assert (out / "fold0" / "result.json").is_file()
    assert " ± " not in done.stdout  # one fold has no spread to print


# ---- 13: --overwrite replaces only galcat's own outputs ----


def test_overwrite_never_deletes_a_folder_galcat_did_not_write(tiny, tmp_path):
    run, store = tiny
    mine = tmp_path / "x.hats"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    before = digest(mine)
    result = invoke("embed", "--model", run, "--store", store, "--out", mine, "--overwrite")
    line = one_line_error(result, "x.hats", "did not write")
    assert "Traceback" not in line and digest(mine) == before
    afile = tmp_path / "f.hats"
    afile.write_text("a file\n")
    result = invoke("embed", "--model", run, "--store", store, "--out", afile, "--overwrite")
    one_line_error(result, "is a file")
    assert afile.read_text() == "a file\n"
    link = tmp_path / "l.hats"
    link.symlink_to(mine)
    one_line_error(invoke("embed", "--model", run, "--store", store, "--out", link, "--overwrite"), "a link")
    assert link.is_symlink() and digest(mine) == before


def test_overwrite_replaces_galcats_own_hats_without_leftovers(tiny, tmp_path):
    pytest.importorskip("lsdb")
    run, store = tiny
    out = tmp_path / "e.hats"
    for _ in range(2):
        done = invoke("embed", "--model", run, "--store", store, "--out", out, "--overwrite")
        assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.hats"]  # no .e.hats.old, no .tmp


def test_store_overwrite_refuses_a_file_that_is_not_a_store(tiny, tmp_path):
    from galcat.synth import make_synthetic_store

    notes = tmp_path / "notes.h5"
    notes.write_bytes(b"\x89HDF\r\n\x1a\n my own data")
    before = digest(notes)
    one_line_error(invoke("synth", "store", "--out", notes, "--overwrite", "--n-per-class", 2, "--size", 16),
                   "notes.h5", "did not write")  # fmt: skip
    assert digest(notes) == before
    store = tmp_path / "s.h5"
    make_synthetic_store(store, ["E", "Sa"], n_per_class=2, size=16)
    make_synthetic_store(store, ["E", "Sa"], n_per_class=3, size=16, overwrite=True)  # its own: replaced


# ---- 14: names from the user stay inside --out; an --out of the wrong kind is refused first ----


@pytest.mark.parametrize("name", ["../../evil", "a/b", "..", "-x", ""])
def test_reproduce_names_cannot_leave_out(tiny, tmp_path, name):
    _, store = tiny
    out = tmp_path / "deep" / "out"
    args = ["reproduce", "--train", f"{name}=" + str(store), "--test", f"t={store}", "--out", out, "--quick"]
    result = invoke(*args)
    one_line_error(result, "NAME")
    assert not (tmp_path / "deep").exists() and not (tmp_path / "evil").exists()


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["evaluate", "--model", "{run}", "--query", "{store}"], "file"),
        (["audit", "{store}", "{store}"], "file"),
        (["probe", "--model", "{run}", "--store", "{store}", "--test", "{store}"], "file"),
        (["reproduce", "--train", "a={store}", "--test", "b={store}", "--quick"], "file"),
        (["embed", "--model", "{run}", "--store", "{store}"], "folder"),
        (["demo"], "file"),
    ],
)
def test_an_out_of_the_wrong_kind_is_one_line_before_any_work(tiny, tmp_path, command, kind):
    run, store = tiny
    out = tmp_path / ("out.fits" if command[0] == "embed" else "out")
    if kind == "file":
        out.write_text("not a folder\n")
    else:
        out.mkdir()
        (out / "keep.txt").write_text("mine\n")
    before = digest(out), digest(store)
    args = [str(a).format(run=run, store=store) for a in command]
    one_line_error(invoke(*args, "--out", out), str(out), f"is a {kind}")
    assert (digest(out), digest(store)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


# ---- 5: --samp without a hub writes the table, then one line about SAMP ----


def test_samp_without_a_hub_writes_the_table_then_warns(tiny, tmp_path, monkeypatch):
    run, store = tiny
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'no-hub.lock').as_uri()}")
    out = tmp_path / "e.fits"
    before = digest(store)
    result = invoke("embed", "--model", run, "--store", store, "--out", out, "--samp")
    lines = result.stderr.splitlines()
    assert result.exit_code == 0, result.output
    assert len(lines) == 1 and lines[0].startswith("galcat: warning: wrote") and "no SAMP hub" in lines[0]
    assert len(read_table(out)) == 54 and digest(store) == before


# ---- 10: classify --keep-store, killed during embedding, resumes ----


def _image_folder(tmp_path, n=6):
    from galcat.synth import render_galaxy

    folder = tmp_path / "images"
    folder.mkdir()
    ids = [f"obj{i}" for i in range(n)]
    for i, objid in enumerate(ids):
        image = render_galaxy(["E", "Sa", "Sc"][i % 3], seed=i, size=32)
        Image.fromarray(image).save(folder / f"{objid}.png")
    targets = tmp_path / "targets.csv"
    targets.write_text("objid,mag\n" + "".join(f"{o},{i}\n" for i, o in enumerate(ids)))
    return targets, folder


def test_keep_store_killed_during_embedding_resumes(tiny, tmp_path, monkeypatch):
    import galcat.outputs.embed as embed_module

    run, _ = tiny
    targets, folder = _image_folder(tmp_path)
    kept, out = tmp_path / "kept.h5", tmp_path / "c.fits"
    args = ["classify", "--model", run, "--targets", targets, "--images", folder, "--id-column", "objid",
            "--keep-store", kept, "--out", out, "--k", 3]  # fmt: skip
    before = digest(targets), digest(folder)
    real = embed_module.embed_catalogue

    def killed(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(embed_module, "embed_catalogue", killed)
    assert invoke(*args).exit_code == 130
    assert kept.is_file() and not out.exists()
    stored = kept.stat().st_mtime_ns
    monkeypatch.setattr(embed_module, "embed_catalogue", real)
    done = invoke(*args)
    assert done.exit_code == 0, done.output
    table = read_table(out)
    assert list(table["classify_status"]) == ["ok"] * 6 and kept.stat().st_mtime_ns == stored  # reused
    assert (digest(targets), digest(folder)) == before
    # a kept store of other targets is not silently replaced
    other = tmp_path / "other.csv"
    other.write_text("objid,mag\nobj0,1\nobj1,2\n")
    swap = {targets: other, out: tmp_path / "c2.fits"}
    line = one_line_error(invoke(*[swap.get(a, a) for a in args]), "kept.h5", "another build")
    assert "--overwrite" in line and kept.stat().st_mtime_ns == stored


# ---- 15: damaged part files under torchrun are recomputed ----


@pytest.mark.parametrize("content", [b"PK\x03\x04" + b"\0" * 64, b"garbage", b""])
def test_a_damaged_part_file_is_recomputed(content, tmp_path):
    from galcat.outputs.shards import _load_part, _save_part

    path = tmp_path / "part.npz"
    path.write_bytes(content)
    assert _load_part(path) is None
    _save_part(path, np.arange(3), {"x": np.ones(3)})
    assert np.array_equal(_load_part(path)["__rows__"], np.arange(3))


# ---- 16: reports say what they measured ----


def test_audit_of_one_class_shows_kappa_undefined_without_warnings(tmp_path):
    from astropy.table import Table

    a = tmp_path / "a.ecsv"
    Table({"objid": [f"g{i}" for i in range(6)], "ra": np.arange(6.0), "dec": np.zeros(6),
           "hubble9": ["E"] * 6}).write(a)  # fmt: skip
    before = digest(a)
    result = invoke("audit", a, a, "--out", tmp_path / "audit", "--by", "sky", "--bootstrap", 50)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "" and "Warning" not in result.output
    assert "kappa undefined" in result.stdout
    saved = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert saved["kappa"] is None and saved["kappa_ci"] is None
    assert saved["bootstrap"]["kappa_undefined"] == 50
    assert "Cohen's kappa: undefined" in (tmp_path / "audit" / "audit.md").read_text()
    assert digest(a) == before


def test_probe_counts_the_queries_with_no_same_class_reference(tiny, tmp_path):
    from galcat.synth import make_synthetic_store

    run, _ = tiny
    one = make_synthetic_store(tmp_path / "one.h5", ["E"], n_per_class=6, size=32, seed=3)
    two = make_synthetic_store(tmp_path / "two.h5", ["E", "Sa"], n_per_class=4, size=32)
    before = digest(one), digest(two)
    result = invoke("probe", "--model", run, "--store", one, "--test", two, "--out", tmp_path / "p",
                    "--bootstrap", 0, "--epochs", 2)  # fmt: skip
    assert result.exit_code == 0 and result.stderr.strip() == "", result.output
    expected = "over 4 of 8 queries; 4 queries have no reference of their own class"
    assert expected in result.stdout and expected in (tmp_path / "p" / "report.md").read_text()
    saved = json.loads((tmp_path / "p" / "metrics.json").read_text())["folds"][0]["retrieval"]
    assert (saved["n_queries"], saved["n_lone"]) == (4, 4) and (digest(one), digest(two)) == before


def test_reproduce_with_nothing_to_run_is_a_user_error(tmp_path):
    from galcat.synth import make_synthetic_store

    store = tmp_path / "s.h5"
    make_synthetic_store(store, ["E", "Sa"], n_per_class=2, size=16)
    out = tmp_path / "out"
    line = one_line_error(
        invoke("reproduce", "--train", f"a={store}", "--test", f"b={store}", "--classes", "11", "--out", out),
        "nothing to run",
    )
    assert "hubble11" in line and not out.exists()


# ---- 6: network errors name their cause; build summaries count finished and failed rows ----


def test_network_errors_name_their_cause():
    import socket

    from galcat.errors import NetworkError
    from galcat.net import HttpConfig, Session

    fast = HttpConfig(retries=1, timeout=0.5, total_timeout=1.0, backoff=0.001, max_backoff=0.01)
    with pytest.raises(NetworkError, match="name resolution failed"):
        Session(fast, service="T").get("http://galcat-no-such-host.invalid/x")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="connection refused"):
        Session(fast, service="T").get(f"http://127.0.0.1:{port}/x")
    with socket.socket() as server:  # listens, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with pytest.raises(NetworkError, match="timed out"):
            Session(fast, service="T").get(f"http://127.0.0.1:{server.getsockname()[1]}/x")


def test_resume_hint_counts_finished_and_failed_rows_apart(tmp_path):
    from galcat.errors import GalcatError
    from galcat.store.recovery import with_resume_hint

    class Part:
        path = tmp_path / "x.h5.partial"

        def __init__(self, statuses):
            self.records_ = {i: {"status": s} for i, s in enumerate(statuses)}
            self.discarded = False

        def records(self):
            return self.records_

        def exists(self):
            return False

        def discard(self):
            self.discarded = True

    offline = Part(["failed"] * 7)
    text = str(with_resume_hint(GalcatError("offline"), offline, 4026))
    assert "no row was finished; 7 rows failed" in text and offline.discarded
    text = str(with_resume_hint(GalcatError("stop"), Part(["ok"] * 5 + ["failed"] * 2), 10))
    assert "5 of 10 rows finished, 2 failed, 3 not tried" in text


# ---- 7: one-fold summaries and the unlabelled query of the neighbour grid ----


def test_neighbour_grid_titles_fit_and_an_unlabelled_query_says_so(tmp_path):
    from galcat.outputs.neighbours import NeighbourResult, QueryMatch, save_neighbour_figure

    class Store:
        def read_images(self, rows):
            return np.zeros((len(rows), 16, 16, 3), np.uint8)

    match = QueryMatch(row=0, objid="587722981742215240", how="name", given="NGC 5257 a long name")
    result = NeighbourResult(match, "unlabelled; 2/3 NN Sc", np.arange(3), ["1", "2", "3"], ["Sc", "Sc", "E"],
                             np.array([0.1, 0.2, 0.3]))  # fmt: skip
    out = save_neighbour_figure(Store(), result, Store(), tmp_path / "nn.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_a_fold_named_twice_is_refused():
    from types import SimpleNamespace

    from galcat.errors import GalcatError
    from galcat.model.ensemble import select_folds

    run = SimpleNamespace(
        path="r", folds=[SimpleNamespace(number=0), SimpleNamespace(number=1)], incomplete={}
    )
    assert [n for n, _ in select_folds(run, "1,0")] == [1, 0]
    with pytest.raises(GalcatError, match="named twice"):
        select_folds(run, "0,0")
