"""Transfer learning: label subsets, encoders from files and the hub, timm trunks, pretraining."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.cli import invoke, one_line_error

from galcat.errors import GalcatError
from galcat.model import TrainConfig, train
from galcat.model.folds import label_subset
from galcat.model.run import load_run

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["E", "S0", "Sa", "Sc", "Irr"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    path = tmp_path_factory.mktemp("transfer") / "synth.h5"
    make_synthetic_store(path, CLASSES, n_per_class=24, size=32, seed=1, overwrite=True)
    return path


def _tiny(store, out, **kw):
    base = dict(
        store=str(store),
        stage="ls-ce",
        out=str(out),
        folds=1,
        epochs=1,
        batch_size=16,
        bn_images=32,
        predict_turns=1,
        device="cpu",
        progress=False,
        embedding_dim=16,
    )
    return train(TrainConfig(**{**base, **kw}))


def test_labels_per_class_is_exact_seeded_and_refuses_a_short_class():
    rows = np.arange(100, 160)
    labels = np.repeat([0, 1, 2], 20)
    a = label_subset(rows, labels, ["x", "y", "z"], per_class=7, seed=3)
    assert np.bincount(labels[np.searchsorted(rows, a)]).tolist() == [7, 7, 7]
    assert np.array_equal(a, label_subset(rows, labels, ["x", "y", "z"], per_class=7, seed=3))
    assert not np.array_equal(a, label_subset(rows, labels, ["x", "y", "z"], per_class=7, seed=4))
    frac = label_subset(rows, labels, ["x", "y", "z"], fraction=0.25, seed=0)
    assert np.bincount(labels[np.searchsorted(rows, frac)]).tolist() == [5, 5, 5]
    with pytest.raises(GalcatError, match=r"--labels-per-class 21: class 'x' has only 20"):
        label_subset(rows, labels, ["x", "y", "z"], per_class=21)


def test_train_uses_n_per_class_keeps_validation_and_records_it(store, tmp_path):
    full = _tiny(store, tmp_path / "full", max_steps=1)
    cut = _tiny(store, tmp_path / "cut", labels_per_class=4, max_steps=1)
    assert cut.folds[0]["n_train"] == 4 * len(CLASSES) and cut.folds[0]["n_val"] == full.folds[0]["n_val"]
    run = load_run(tmp_path / "cut")
    assert run.config.labels_per_class == 4
    from galcat.store import open_store

    codes = np.asarray(open_store(store).label_codes("hubble9"))
    assert sorted(np.bincount(codes[run.folds[0].train_indices]).tolist()) == [0] * 4 + [4] * 5
    assert np.array_equal(run.folds[0].val_indices, load_run(tmp_path / "full").folds[0].val_indices)
    result = invoke(
        "train", "--store", store, "--out", tmp_path / "x", "--folds", "1", "--labels-per-class", "99"
    )
    one_line_error(result, "--labels-per-class 99", "has only")


def test_timm_encoder_from_a_file_round_trips_and_runs_through_every_command(store, tmp_path, shared_data):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    encoder = timm.create_model("resnet18", num_classes=7)
    save_file(encoder.state_dict(), tmp_path / "r18.safetensors")
    torch.save(encoder.state_dict(), tmp_path / "r18.pt")
    weights = {
        k: v for k, v in encoder.state_dict().items() if not k.startswith("fc.") and "running" not in k
    }
    for source in ("r18.safetensors", "r18.pt"):
        out = tmp_path / f"run-{source}"
        result = _tiny(store, out, arch="timm:resnet18", init=str(tmp_path / source), freeze_trunk=True)
        assert result.summary["init"].endswith(source) and result.config.arch == "timm:resnet18"
        fold = load_run(out).folds[0]  # weights_only checkpoint, network rebuilt offline from its arch
        trunk = fold.model.trunk.state_dict()
        for name, value in weights.items():  # a frozen trunk keeps the file's weights exactly
            if value.is_floating_point():
                assert torch.equal(trunk[name], value), name
    # the same commands as a torchvision ResNet: evaluate, embed, classify
    run = tmp_path / "run-r18.safetensors"
    result = invoke(
        "evaluate", "--model", run, "--query", store, "--out", tmp_path / "ev", "--bootstrap", "0"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["combined"]["n_query"] > 0
    result = invoke("embed", "--model", run, "--store", store, "--out", tmp_path / "emb.ecsv")
    assert result.exit_code == 0, result.output
    images = shared_data / "gz1" / "images"
    ids = sorted(p.stem for p in images.glob("*.jpeg"))[:3]
    targets = tmp_path / "targets.csv"
    targets.write_text("objid,ra,dec\n" + "".join(f"{i},150.0,2.0\n" for i in ids))
    result = invoke(
        "classify",
        "--model",
        run,
        "--targets",
        targets,
        "--images",
        images,
        "--id-column",
        "objid",
        "--out",
        tmp_path / "mine.ecsv",
    )
    assert result.exit_code == 0, result.output
    assert "3 classified" in result.output
    # a file that fits no timm resnet18 is refused in one line naming it
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    result = invoke(
        "train",
        "--store",
        store,
        "--out",
        tmp_path / "bad",
        "--folds",
        "1",
        "--arch",
        "timm:resnet18",
        "--init",
        tmp_path / "bad.pt",
    )
    one_line_error(result, "bad.pt", "do not fit a timm:resnet18")


def test_freeze_epochs_and_trunk_learning_rate(store, tmp_path):
    from galcat.model.builders import make_optimizers
    from galcat.model.networks import GalaxyNet

    model = GalaxyNet("resnet18", 16, class_names=CLASSES)
    cfg = TrainConfig(store="x", lr=1e-3, trunk_lr_factor=0.1, optimizer="adam")
    (opt,) = make_optimizers(cfg, model, torch.nn.Module())
    assert [g["lr"] for g in opt.param_groups] == [pytest.approx(1e-4), 1e-3]
    run = tmp_path / "freeze"
    _tiny(store, run, init=None, freeze_epochs=1, epochs=2, max_steps=1)
    first = torch.load(run / "fold0" / "last.pt", weights_only=True)
    assert json.loads(first["loop_state"])["epoch"] == 1  # both epochs ran (trunk frozen, then free)


def _pretrain(store, out, epochs=6):
    from galcat.model.pretrain import PretrainConfig, pretrain

    return pretrain(
        PretrainConfig(
            stores=[str(store)],
            out=str(out),
            arch="resnet18",
            epochs=epochs,
            batch_size=32,
            lr=2e-3,
            device="cpu",
            progress=False,
        )
    )


def test_pretraining_lowers_its_loss_and_separates_classes_better_than_random(store, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from galcat.model.networks import GalaxyNet
    from galcat.model.run import load_fold_model
    from galcat.store import open_store
    from galcat.store.augment import BatchAugment

    summary = _pretrain(store, tmp_path / "ssl")
    losses = [json.loads(line)["train_loss"] for line in (tmp_path / "ssl/fold0/metrics.jsonl").open()]
    assert len(losses) == 6 and losses[-1] < 0.85 * losses[0]
    assert summary["n_images"] + summary["n_held_out"] == 24 * len(CLASSES)
    assert (tmp_path / "ssl" / "curves.png").stat().st_size > 1000
    s = open_store(store)
    images, labels = torch.from_numpy(s.read_images(slice(0, len(s)))), s.label_codes("hubble9")
    torch.manual_seed(0)
    encoders = {
        "random": GalaxyNet("resnet18", 128),
        "ssl": load_fold_model(tmp_path / "ssl/fold0/best.pt").model,
    }
    scores = {}
    for name, net in encoders.items():  # a frozen linear probe on the unit trunk features
        net.eval()
        with torch.no_grad():
            features = torch.nn.functional.normalize(net.trunk(BatchAugment(32, train=False)(images))).numpy()
        probe = LogisticRegression(max_iter=5000, C=10.0)
        scores[name] = cross_val_score(probe, features, labels, cv=4).mean()
    assert scores["ssl"] > scores["random"] + 0.05, scores
    # resumable: the same command again finds every epoch done; usable wherever --init is
    again = _pretrain(store, tmp_path / "ssl")
    assert (
        again["epochs_run"] == 6 and len((tmp_path / "ssl/fold0/metrics.jsonl").read_text().splitlines()) == 6
    )
    result = _tiny(store, tmp_path / "ft", init=str(tmp_path / "ssl"), embedding_dim=128, max_steps=1)
    assert result.summary["init"] == str(tmp_path / "ssl")


def test_contrastive_views_keep_handedness_unless_flips_are_allowed():
    from galcat.store.views import ContrastiveViews

    torch.manual_seed(0)
    image = torch.zeros(1, 33, 33, 3, dtype=torch.uint8)
    image[0, 16, 16:30] = 255  # an arm along +x and a hook at its end: a chiral "L"
    image[0, 16:24, 29] = 255
    views = ContrastiveViews(33, flips=False, max_angle=0, jitter=0, scale=(1, 1), blur=0, noise=0, colour=0)
    out = views(image.expand(64, -1, -1, -1))
    assert out.shape == (128, 3, 33, 33)
    base = views.view(image)[0, 0]
    rotations = torch.stack([torch.rot90(base, k) for k in range(4)])

    def distance(view):  # to the nearest 90-degree turn of the original
        return float((rotations - view[0]).abs().amax(dim=(1, 2)).min())

    assert max(distance(v) for v in out) < 1e-3  # turns only, never a mirror
    mirrored = ContrastiveViews(
        33, flips=True, max_angle=0, jitter=0, scale=(1, 1), blur=0, noise=0, colour=0
    )
    assert max(distance(v) for v in mirrored(image.expand(64, -1, -1, -1))) > 1.0


def _hub_repo(tmp_path) -> Path:
    """A timm model saved as the hub stores it (config.json + model.safetensors)."""
    timm = pytest.importorskip("timm")
    from timm.models._hub import save_for_hf

    repo = tmp_path / "hub"
    model = timm.create_model(
        "resnet18", num_classes=0, pretrained_cfg_overlay={"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
    )
    repo.mkdir()
    save_for_hf(model, repo, safe_serialization=True)
    return repo


def _serve(httpserver, repo: Path):
    from werkzeug import Response

    commit = "0123456789abcdef0123456789abcdef01234567"

    def handler(request):
        match = re.match(r"^/galcat-test/tiny-r18/resolve/[^/]+/(.+)$", request.path)
        path = repo / match.group(1) if match else None
        if path is None or not path.is_file():
            return Response("not found", status=404, headers={"X-Error-Code": "EntryNotFound"})
        body = path.read_bytes()
        etag = hashlib.sha256(body).hexdigest()
        return Response(body, headers={"X-Repo-Commit": commit, "ETag": f'"{etag}"'})  # HEAD: headers only

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    return httpserver.url_for("").rstrip("/")


def _galcat(args, env_extra, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "galcat", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_hub_encoder_downloads_once_into_the_cache_and_offline_fails_in_one_line(store, tmp_path, httpserver):
    repo = _hub_repo(tmp_path)
    endpoint = _serve(httpserver, repo)
    env = {
        "HF_ENDPOINT": endpoint,
        "GALCAT_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    args = [
        "train",
        "--store",
        store,
        "--folds",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-steps",
        "1",
        "--bn-images",
        "16",
        "--predict-turns",
        "1",
        "--init",
        "hf_hub:galcat-test/tiny-r18",
    ]
    done = _galcat([*args, "--out", tmp_path / "hub-run"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "started from   hf_hub:galcat-test/tiny-r18" in done.stdout
    assert any(p.name == "model.safetensors" for p in (tmp_path / "cache" / "models").rglob("*"))
    config = json.loads((tmp_path / "hub-run" / "config.json").read_text())
    assert config["arch"] == "timm:resnet18" and config["image_size"] == 224  # the encoder's own input size
    fold = load_run(tmp_path / "hub-run").folds[0]
    assert fold.model.input_mean == (0.5, 0.5, 0.5) and fold.model.input_std == (0.25, 0.25, 0.25)
    # downloaded once: the next run asks the hub nothing (an unexpected request fails the server check)
    httpserver.clear()
    cached = _galcat([*args, "--image-size", "32", "--out", tmp_path / "cached-run"], env, tmp_path)
    assert cached.returncode == 0, cached.stderr[-2000:]
    assert not httpserver.log
    # offline with nothing cached: one line, within seconds
    started = time.perf_counter()
    offline = _galcat(
        [*args, "--out", tmp_path / "offline"],
        {**env, "HF_ENDPOINT": "http://127.0.0.1:9", "GALCAT_CACHE_DIR": str(tmp_path / "empty")},
        tmp_path,
    )
    lines = [line for line in offline.stderr.splitlines() if line.strip()]
    assert offline.returncode == 2 and len(lines) == 1, offline.stderr
    assert "hf_hub:galcat-test/tiny-r18: cannot reach the Hugging Face hub" in lines[0]
    assert time.perf_counter() - started < 60
