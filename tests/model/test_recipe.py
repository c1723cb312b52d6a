"""The training recipe: handed schemes never see a flip, class balance, OneCycle, selection by metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from galcat.errors import GalcatError
from galcat.model import TrainConfig, train
from galcat.model.config import resolve_config
from galcat.model.data import make_augment, open_training_data
from galcat.schemes import mirror_pairs
from galcat.store.augment import BatchAugment
from galcat.store.loader import ClassBalancedBatchSampler

GZ1 = ["elliptical", "spiral_cw", "spiral_acw"]


@pytest.fixture(scope="module")
def handed_store(tmp_path_factory):
    """A store labelled like Galaxy Zoo 1 (spiral_cw / spiral_acw), scheme 'class_name'."""
    from galcat.store import write_store
    from galcat.synth import synthetic_catalogue_and_images

    table, images = synthetic_catalogue_and_images(["E", "Sc", "Irr"], n_per_class=8, size=32, seed=3)
    names = {"E": "elliptical", "Sc": "spiral_cw", "Irr": "spiral_acw"}
    table["class_name"] = [names[c] for c in table["synthetic_class"]]
    table.meta["label_schemes"] = {"class_name": GZ1}
    return write_store(tmp_path_factory.mktemp("gz1") / "gz1.h5", table, images)


def tiny(store, out, **kw):
    base = dict(store=str(store), out=str(out), folds=1, val_fraction=0.25, epochs=1, batch_size=6,
                max_steps=1, embedding_dim=16, progress=False, bn_images=12)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_gz1_class_names_and_store_declarations_make_a_scheme_handed():
    assert mirror_pairs(["elliptical", "Spiral_CW", "spiral_acw", "edge_on"]) == [("Spiral_CW", "spiral_acw")]
    assert mirror_pairs(["E", "Sa", "Sb"]) == []
    assert mirror_pairs(["E", "S", "Z"], declared='[["S", "Z"]]') == [("S", "Z")]


def test_a_handed_store_trains_without_flips_and_refuses_them(handed_store, tmp_path):
    data = open_training_data(str(handed_store), "ls-ce", None)
    assert data.scheme == "class_name" and data.mirror_pairs == [("spiral_cw", "spiral_acw")]
    run = train(tiny(handed_store, tmp_path / "run"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["flips"] is False and saved["rot90"] is True and run.config.flips is False
    with pytest.raises(GalcatError, match="spiral_cw/spiral_acw"):
        train(tiny(handed_store, tmp_path / "flipped", flips=True))
    with pytest.raises(GalcatError, match="flips would exchange"):
        make_augment(32, True, flips=True, mirror_pairs=data.mirror_pairs)
    plain = resolve_config(TrainConfig(store="x"), "cpu", 32)
    assert plain.flips is True  # an unhanded scheme keeps flips on by default
    assert saved["mirror_relabel"] is True and plain.mirror_relabel is False
    with pytest.raises(GalcatError, match="--mirror-relabel: scheme 'E' has no mirror pairs"):
        resolve_config(TrainConfig(store="x", scheme="E", mirror_relabel=True), "cpu", 32)


def test_mirror_relabel_mirrors_exactly_the_relabelled_galaxies():
    """A mirrored spiral_cw becomes spiral_acw and vice versa; other classes keep their label."""
    from galcat.model.data import MirrorRelabel

    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.integers(0, 256, (200, 6, 6, 3), dtype=np.uint8))
    labels = torch.from_numpy(rng.integers(-1, 3, 200))  # -1: unlabelled rows are never relabelled
    torch.manual_seed(0)
    out = MirrorRelabel(GZ1, [("spiral_cw", "spiral_acw")])({"images": images, "labels": labels, "index": 7})
    mirrored = torch.tensor([torch.equal(o, i.flip(1)) for o, i in zip(out["images"], images, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out["images"], images, strict=True)])
    assert bool((mirrored ^ kept).all()) and 60 < int(mirrored.sum()) < 140 and out["index"] == 7
    expected = torch.where(mirrored & (labels > 0), 3 - labels, labels)  # 1 <-> 2; 0 and -1 stay
    assert torch.equal(out["labels"], expected)


def test_the_cli_refuses_flips_for_a_handed_scheme_in_one_line(handed_store, tmp_path):
    from helpers.cli import invoke

    res = invoke("train", "--store", handed_store, "--flips", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "handed" in res.output and "--no-flips" in res.output


def test_without_flips_the_augmentation_only_rotates_so_handedness_survives():
    """Every augmented image is a rotation of its source, never a mirror image."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)  # no symmetry: each transform differs
    batch = torch.from_numpy(np.repeat(image, 64, axis=0))
    plain = BatchAugment(image_size=None, train=False, normalize=False)(batch[:1])[0]
    rotations = [torch.rot90(plain, k, dims=(1, 2)) for k in range(4)]
    mirrors = [torch.flip(r, dims=(2,)) for r in rotations]
    torch.manual_seed(0)
    out = BatchAugment(image_size=None, train=True, flips=False, rot90=True, normalize=False)(batch)
    kinds = set()
    for img in out:
        assert not any(torch.equal(img, m) for m in mirrors)
        kinds.add(next(k for k, r in enumerate(rotations) if torch.equal(img, r)))
    assert kinds == {0, 1, 2, 3}
    flipped = BatchAugment(image_size=None, train=True, flips=True, rot90=True, normalize=False)(batch)
    assert any(any(torch.equal(img, m) for m in mirrors) for img in flipped)  # the check can fail


def test_class_balanced_batches_follow_the_power_rule():
    labels = np.array([0] * 900 + [1] * 100)
    rows = np.arange(1000) + 50
    counts = {}
    for power in (0.0, 0.5, 1.0):
        sampler = ClassBalancedBatchSampler(rows, labels, power, batch_size=100, seed=1, drop_last=True)
        drawn = np.concatenate([np.concatenate(list(sampler)) for _ in range(20)])
        assert set(drawn) <= set(rows.tolist())
        counts[power] = np.mean(labels[drawn - 50] == 1)
    # expected share of the rare class: 100 * 100^-p / (900 * 900^-p + 100 * 100^-p)
    assert counts[0.0] == pytest.approx(0.10, abs=0.01)
    assert counts[0.5] == pytest.approx(10 / 40, abs=0.015)
    assert counts[1.0] == pytest.approx(0.5, abs=0.02)


def test_onecycle_warms_up_and_decays_per_step_and_resumes(handed_store, tmp_path):
    train(tiny(handed_store, tmp_path / "run", epochs=3, max_steps=2, lr=1e-3))
    log = [json.loads(x) for x in (tmp_path / "run" / "fold0" / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in log]  # at each epoch's end: past the peak (30 % of 6 steps), decaying
    assert 1e-3 > lrs[0] > lrs[1] > lrs[2] and lrs[2] < 1e-3 / 25
    last = torch.load(tmp_path / "run" / "fold0" / "last.pt", weights_only=True)
    sched = last["schedulers"][0]
    assert sched["total_steps"] == 6 and sched["last_epoch"] == 5 and sched["_schedule_phases"]
    group = last["optimizers"][0]["param_groups"][0]
    assert group["initial_lr"] == pytest.approx(1e-3 / 25) and group["max_lr"] == pytest.approx(1e-3)
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("select_by", "best"), [("macro_f1", 2), ("val_loss", 1), ("map_at_r", 0)])
def test_the_best_epoch_is_chosen_by_the_selection_metric(
    handed_store, tmp_path, monkeypatch, select_by, best
):
    import galcat.model.loop as loop

    scripted = iter([
        {"val_loss": 1.0, "macro_f1": 0.2, "map_at_r": 0.9},
        {"val_loss": 0.5, "macro_f1": 0.3, "map_at_r": 0.5},
        {"val_loss": 0.8, "macro_f1": 0.6, "map_at_r": 0.4},
    ])  # fmt: skip
    monkeypatch.setattr(loop, "validate", lambda *a, **k: dict(next(scripted)))
    res = train(tiny(handed_store, tmp_path / select_by, epochs=3, select_by=select_by))
    fold = res.folds[0]
    assert fold["best_epoch"] == best and fold["selected_by"] == select_by
    assert torch.load(tmp_path / select_by / "fold0" / "best.pt", weights_only=True)["epoch"] == best


def test_early_stopping_counts_epochs_without_a_better_selection_metric(handed_store, tmp_path, monkeypatch):
    import galcat.model.loop as loop

    f1 = iter([0.5, 0.4, 0.4, 0.9])
    monkeypatch.setattr(loop, "validate", lambda *a, **k: {"val_loss": 1.0, "macro_f1": next(f1)})
    res = train(tiny(handed_store, tmp_path / "run", epochs=4, patience=2))
    assert res.folds[0]["epochs_run"] == 3 and res.folds[0]["best_epoch"] == 0


def test_loss_balance_weights_classes_by_the_power_rule(handed_store):
    from galcat.model.builders import class_weights

    cfg = resolve_config(tiny(handed_store, "x", balance="loss", balance_power=1.0), "cpu", 32)
    data = open_training_data(str(handed_store), "ls-ce", None)
    rows = data.rows[np.r_[np.flatnonzero(data.labels == 0)[:6], np.flatnonzero(data.labels == 1)[:2]]]
    w = class_weights(cfg, data, rows).numpy()
    assert w[2] == 0 and w[1] == pytest.approx(3 * w[0])  # 6 vs 2 rows, power 1
    assert (w[data.labels[np.searchsorted(data.rows, rows)]]).mean() == pytest.approx(1.0)
    with pytest.raises(GalcatError, match="balance-power"):
        resolve_config(tiny(handed_store, "x", balance_power=2.0), "cpu", 32)


def test_a_onecycle_run_is_as_long_as_its_schedule_unless_patience_is_given():
    onecycle = resolve_config(TrainConfig(store="x"), "cpu", 32)
    plateau = resolve_config(TrainConfig(store="x", schedule="plateau"), "cpu", 32)
    asked = resolve_config(TrainConfig(store="x", patience=3), "cpu", 32)
    assert onecycle.patience is None and plateau.patience == 10 and asked.patience == 3
    with pytest.raises(GalcatError, match="patience"):
        resolve_config(TrainConfig(store="x", patience=0), "cpu", 32)
