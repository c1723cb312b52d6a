"""Hostile model files and outputs: damaged checkpoints and config.json, runs evaluated from
another directory, outputs that would replace inputs, read-only outputs, numeric options; and
outputs (the GZ1 embed table, non-ASCII labels) that fitsverify and the VOTable validator accept."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess

import pytest
import torch
from astropy.io import votable
from helpers.cli import invoke, one_line_error

from galcat.catalogues import read_catalogue
from galcat.images import LocalArchiveSource
from galcat.store import BuildConfig, PreprocessConfig, build_store

from .conftest import digest


@pytest.fixture
def run_copy(tiny, tmp_path):
    """A private copy of the session's tiny run (resnet18, 32 px) and its store."""
    run, store = tiny
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy, store


def _embed(run, store, out, *extra):
    return invoke("embed", "--model", run, "--store", store, "--out", out, *extra)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (os.urandom(4096), "not a galcat checkpoint"),
        (b"PK\x03\x04" + os.urandom(200), "not a galcat checkpoint"),
    ],
)
def test_damaged_checkpoints_are_one_line(run_copy, tmp_path, content, needle):
    run, store = run_copy
    (run / "fold0" / "best.pt").write_bytes(content)
    line = one_line_error(_embed(run, store, tmp_path / "o.fits"), "best.pt", needle)
    assert "pickle" not in line
    assert not (tmp_path / "o.fits").exists()


def test_pickled_checkpoint_is_refused_as_pickle(run_copy, tmp_path):
    run, store = run_copy
    torch.save({"model": torch.nn.Linear(2, 2)}, run / "fold0" / "best.pt")  # a whole pickled module
    one_line_error(_embed(run, store, tmp_path / "o.fits"), "best.pt", "pickle")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"arch": "resnet34"}, "do not fit a resnet34"),
        ({"class_names": [*"ABCDEFGHIJ"]}, "with 10 classes"),
        ({"arch": "vgg16"}, "architecture 'vgg16'"),
        ({"embedding_dim": "big"}, "'embedding_dim'"),
        ({"image_size": -3}, "'image_size'"),
        ({"rotations": 3}, "checkpoint 'rotations' is 3, not 1 or 4"),
        ({"rotations": "four"}, "checkpoint 'rotations' is 'four'"),
    ],
)
def test_checkpoint_schema_and_architecture(run_copy, tmp_path, change, needle):
    run, store = run_copy
    path = run / "fold0" / "best.pt"
    payload = torch.load(path, weights_only=True)
    payload.update(change)
    torch.save(payload, path)
    one_line_error(_embed(run, store, tmp_path / "o.fits"), "best.pt", needle)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not a readable JSON config"),
        ("[1, 2, 3]", "not a list"),
        ('{"stage": "ce"}', "'store' is missing"),
        (None, "--stage 'bogus'"),
        (None, "--arch 'vgg'"),
        (None, "--folds must be >= 1"),
        (None, "--image-size must be between"),
        (None, "'epochs' = 'many'"),
    ],
)
def test_config_json_is_checked_against_the_schema(run_copy, tmp_path, text, needle):
    run, store = run_copy
    config = run / "config.json"
    if text is None:
        data = json.loads(config.read_text())
        key, value = {
            "--stage 'bogus'": ("stage", "bogus"),
            "--arch 'vgg'": ("arch", "vgg"),
            "--folds must be >= 1": ("folds", 0),
            "--image-size must be between": ("image_size", -3),
            "'epochs' = 'many'": ("epochs", "many"),
        }[needle]
        data[key] = value
        text = json.dumps(data)
    config.write_text(text)
    line = one_line_error(_embed(run, store, tmp_path / "o.fits"), "config.json")
    assert needle in line


def test_new_runs_record_the_store_absolutely_and_old_relative_paths_resolve(run_copy, tmp_path, monkeypatch):
    run, store = run_copy
    data = json.loads((run / "config.json").read_text())
    assert os.path.isabs(data["store"])
    moved = tmp_path / "synth.h5"  # beside the run directory, named relative to it
    shutil.copy(store, moved)
    data["store"] = "../synth.h5"
    (run / "config.json").write_text(json.dumps(data))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("evaluate", "--model", run, "--query", moved, "--bootstrap", 0, "--out", "report")
    assert result.exit_code == 0, result.output
    assert (elsewhere / "report" / "metrics.json").exists()


def test_outputs_never_replace_inputs(run_copy, tmp_path):
    run, store = run_copy
    local = tmp_path / "s.h5"
    shutil.copy(store, local)
    before = digest(local), digest(run)
    one_line_error(_embed(run, local, local, "--overwrite"), "--out", "--store")
    one_line_error(_embed(run, local, tmp_path / "o.fits", "--reference", tmp_path / "o.fits"), "--reference")
    one_line_error(_embed(run, local, run / "config.json", "--overwrite"), "config.json")
    one_line_error(invoke("evaluate", "--model", run, "--query", local, "--out", run), "--out", "--model")
    report = tmp_path / "rep"
    report.mkdir()
    shutil.copy(local, report / "metrics.json")  # a query store named like a report file
    one_line_error(
        invoke("evaluate", "--model", run, "--query", report / "metrics.json", "--out", report), "--query"
    )
    assert (report / "metrics.json").read_bytes() == local.read_bytes()
    one_line_error(
        invoke("train", "--store", local, "--out", run, "--init", run, "--epochs", 1), "--init", "own input"
    )
    assert (digest(local), digest(run)) == before


@pytest.mark.parametrize(
    "args",
    [
        ("embed", "--k", 0),
        ("embed", "--batch-size", 0),
        ("embed", "--fold", -1),
        ("evaluate", "--bootstrap", -1),
        ("evaluate", "--batch-size", 0),
        ("train", "--epochs", 0),
        ("train", "--lr", "nan"),
        ("train", "--lr", -1),
        ("train", "--image-size", 0),
        ("train", "--batch-size", 0),
        ("train", "--num-workers", -2),
        ("train", "--label-smoothing", 1.5),
        ("demo", "--image-size", -8),
    ],
)
def test_numeric_options_are_range_checked(run_copy, tmp_path, args):
    run, store = run_copy
    command, option, value = args
    base = {
        "embed": ["embed", "--model", run, "--store", store, "--out", tmp_path / "o.fits"],
        "evaluate": ["evaluate", "--model", run, "--query", store, "--out", tmp_path / "rep"],
        "train": ["train", "--store", store, "--out", tmp_path / "newrun"],
        "demo": ["demo", "--out", tmp_path / "demo"],
    }[command]
    one_line_error(invoke(*base, option, value), option)
    assert not (tmp_path / "newrun").exists() and not (tmp_path / "o.fits").exists()


@pytest.mark.parametrize("command", ["embed", "evaluate", "train", "catalogue"])
def test_read_only_out_is_one_line(run_copy, readonly_dir, shared_data, command):
    run, store = run_copy
    out = readonly_dir / "x" / ("o.fits" if command in ("embed", "catalogue") else "dir")
    args = {
        "embed": ["embed", "--model", run, "--store", store, "--out", out],
        "evaluate": ["evaluate", "--model", run, "--query", store, "--out", out],
        "train": ["train", "--store", store, "--out", out, "--epochs", 1],
        "catalogue": ["catalogue", "folder", "--source", shared_data / "gz1" / "labels.csv", "--out", out],
    }[command]
    one_line_error(invoke(*args), str(out), "read-only")


def _fitsverify(fitsverify, path) -> tuple[int, int, str]:
    out = subprocess.run([fitsverify, str(path)], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Verification found (\d+) warning\(s\) and (\d+) error\(s\)", out)
    assert found, out
    return int(found[1]), int(found[2]), out


def _tiny_folder_store(tmp_path, shared_data, labels_text: str | None = None):
    """A 12-galaxy GZ1 store (32 px) from the real images; optionally relabelled (non-ASCII)."""
    source = shared_data / "gz1" / "labels.csv"
    lines = source.read_text().splitlines()[:13]
    if labels_text is not None:
        lines = [lines[0]] + [
            f"{ln.rsplit(',', 1)[0]},{labels_text[i % 3]}" for i, ln in enumerate(lines[1:])
        ]
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(lines) + "\n")
    images = shared_data / "gz1" / "images"
    table = read_catalogue("folder", csv, images=images)
    out = tmp_path / "gz1.h5"
    build_store(
        table,
        LocalArchiveSource(images),
        out,
        BuildConfig(name="folder", workers=2, preprocess=PreprocessConfig(size=32)),
    )
    return out


@pytest.mark.parametrize("labels", [None, ["Sé", "É–merger", "日本"]], ids=["gz1", "non-ascii"])
def test_embed_outputs_pass_fitsverify_and_the_votable_validator(
    tiny, tmp_path, shared_data, require_tool, labels
):
    fitsverify = require_tool("fitsverify")
    run, _ = tiny
    store = _tiny_folder_store(tmp_path, shared_data, labels)
    for ext in ("fits", "fits.gz", "vot"):
        out = tmp_path / f"embedded.{ext}"
        # the model's scheme is hubble9 and the GZ1 store has none, so no kNN columns: the
        # catalogue's own columns (objid and OBJID, labels) are what the checkers must accept
        result = invoke("embed", "--model", run, "--store", store, "--out", out)
        assert result.exit_code == 0, result.output
        if ext == "vot":
            report = io.StringIO()
            assert votable.validate(str(out), output=report, xmllint=False), report.getvalue()
            assert "found no violations" in report.getvalue(), report.getvalue()
        else:
            warnings_, errors, text = _fitsverify(fitsverify, out)
            assert (warnings_, errors) == (0, 0), text
    from galcat.tables import read_table

    back = read_table(tmp_path / "embedded.fits")
    assert "objid" in back.colnames and "OBJID" in back.colnames  # original names restored
    if labels is not None:
        assert set(back["class_name"]) == set(labels)
