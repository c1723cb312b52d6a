"""Unit tests of galcat.model: label smoothing, PML losses x miners, folds, checkpoints, networks."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from galcat.errors import GalcatError
from galcat.model.checkpoint import load_checkpoint, resolve_checkpoint_path, safe_load, save_checkpoint
from galcat.model.config import LOSSES, TrainConfig, resolve_config
from galcat.model.folds import make_folds
from galcat.model.losses import LabelSmoothingCrossEntropy, make_dml_loss, make_miner
from galcat.model.networks import GalaxyNet, transfer_weights
from galcat.model.run import load_fold_model
from galcat.model.steps import Objective


def test_label_smoothing_matches_the_papers_equations_by_hand():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    labels = torch.tensor([0, 1])
    eps, k = 0.1, 3
    expected = 0.0
    for row, y in zip(logits.tolist(), labels.tolist(), strict=True):
        log_z = math.log(sum(math.exp(v) for v in row))
        for c, v in enumerate(row):
            target = 1 - eps if c == y else eps / (k - 1)  # 0.9 and 0.05, not torch's eps/K
            expected -= target * (v - log_z)
    expected /= 2
    got = LabelSmoothingCrossEntropy(epsilon=eps)(logits, labels)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    torch_version = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps)
    assert abs(torch_version.item() - expected) > 1e-3  # torch spreads eps/K: a different loss


def test_label_smoothing_with_zero_epsilon_is_cross_entropy():
    logits, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert LabelSmoothingCrossEntropy(0.0)(logits, labels).item() == pytest.approx(ce.item(), rel=1e-6)


def _on_circle(degrees):
    """Unit vectors at these angles: LpDistance(normalize_embeddings=True) sees chord lengths."""
    rad = np.deg2rad(np.asarray(degrees, dtype=float))
    return torch.tensor(np.stack([np.cos(rad), np.sin(rad)], axis=1), dtype=torch.float32)


def _pairwise(x):
    return torch.cdist(x, x).numpy()


def test_pair_miner_keeps_positives_apart_and_negatives_closer_than_0_2():
    x = _on_circle([0, 40, 5, 120])  # a0, a1 (same class, 0.68 apart); b 0.087 from a0; c far
    labels = torch.tensor([0, 0, 1, 2])
    a1, p, a2, n = make_miner("pair")(x, labels)
    assert sorted(zip(a1.tolist(), p.tolist(), strict=True)) == [(0, 1), (1, 0)]
    negatives = sorted(zip(a2.tolist(), n.tolist(), strict=True))
    assert negatives == [(0, 2), (2, 0)]  # only b is nearer a negative than 0.2 (a1-b is 0.60)
    assert make_miner("none") is None


def test_semihard_triplet_miner_keeps_negatives_within_0_01_beyond_the_positive():
    # anchor 0 deg, positive 30 deg (0.5176 away); negatives 30.5 deg (0.0085 further: semihard),
    # 35 deg (0.0837 further: too easy) and 20 deg (nearer than the positive: hard)
    x = _on_circle([0, 30, 30.5, 35, 20])
    labels = torch.tensor([0, 0, 1, 2, 3])
    anchors, positives, negatives = make_miner("triplet")(x, labels)
    mined = set(zip(anchors.tolist(), positives.tolist(), negatives.tolist(), strict=True))
    assert (0, 1, 2) in mined and (0, 1, 3) not in mined and (0, 1, 4) not in mined


def test_contrastive_and_triplet_losses_equal_their_formulas_with_the_papers_margins():
    x = _on_circle([0, 25, 60, 100, 190, 200])
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    d, same = _pairwise(x), (labels[:, None] == labels[None, :]).numpy()
    off_diagonal = ~np.eye(len(x), dtype=bool)
    positive = d[same & off_diagonal]  # pos_margin 0: every positive distance counts
    negative = np.maximum(1.5 - d[~same], 0)  # neg_margin 1.5
    expected = positive[positive > 0].mean() + negative[negative > 0].mean()
    got = make_dml_loss("contrastive", 3, 2)(x, labels).item()
    assert got == pytest.approx(expected, rel=1e-5)

    triplet_losses = [
        max(d[a, p] - d[a, n] + 0.01, 0.0)  # margin 0.01
        for a in range(len(x))
        for p in range(len(x))
        for n in range(len(x))
        if a != p and same[a, p] and not same[a, n]
    ]
    positive_losses = [v for v in triplet_losses if v > 0]  # ThresholdReducer(low=0)
    got = make_dml_loss("triplet", 3, 2)(x, labels).item()
    assert got == pytest.approx(np.mean(positive_losses), rel=1e-5)


def test_proxy_losses_get_one_proxy_per_class_in_the_embedding_space():
    for name in ("proxy-nca", "proxy-anchor", "normalized-softmax"):
        loss = make_dml_loss(name, 9, 128)
        weights = loss.proxies if hasattr(loss, "proxies") else loss.W
        assert tuple(weights.shape) in {(9, 128), (128, 9)}, name


def _clustered(n_per_class=8, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, dim, generator=g) * 2
    labels = torch.arange(3).repeat_interleave(n_per_class)
    x = centres[labels] + torch.randn(len(labels), dim, generator=g)
    return x, labels


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("miner", ["pair", "triplet", "none"])
def test_every_dml_loss_and_miner_lowers_its_loss(loss, miner):
    """The real Objective + optimisers (proxies in their own SGD) on a small embedding net."""
    from galcat.model.builders import make_optimizers

    torch.manual_seed(0)
    x, labels = _clustered()
    cfg = resolve_config(
        TrainConfig(store="x", stage="dml", loss=loss, miner=miner, embedding_dim=8), "cpu", 32
    )
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    objective = Objective(cfg, n_classes=3)
    opts = make_optimizers(dataclass_lr(cfg, 1e-2), net, objective)
    assert len(opts) == (2 if "proxy" in loss or loss == "normalized-softmax" else 1)

    def plain_loss():
        with torch.no_grad():
            return objective({"embedding": net(x)}, {"labels": labels}, train=False).item()

    before = plain_loss()
    for _ in range(30):
        out = {"embedding": net(x)}
        loss_value = objective(out, {"labels": labels}, train=True)
        for o in opts:
            o.zero_grad()
        loss_value.backward()
        for o in opts:
            o.step()
    assert plain_loss() < before


def dataclass_lr(cfg, lr):
    import dataclasses

    return dataclasses.replace(cfg, lr=lr)


def test_stratified_kfold_is_disjoint_and_covers_every_row():
    rows = np.arange(100, 160)
    labels = np.repeat([0, 1, 2], 20)
    folds = make_folds(rows, labels, n_folds=5, seed=1)
    vals = np.concatenate([va for _, va in folds])
    assert sorted(vals.tolist()) == rows.tolist()  # each row in exactly one validation set
    for tr, va in folds:
        assert not set(tr) & set(va)
        assert len(tr) + len(va) == len(rows)
        lab = dict(zip(rows, labels, strict=True))
        assert sorted(np.bincount([lab[r] for r in va]).tolist()) == [4, 4, 4]  # stratified
    assert [va.tolist() for _, va in make_folds(rows, labels, 5, seed=1)] == [va.tolist() for _, va in folds]


def test_single_split_uses_val_fraction_and_is_stratified():
    rows, labels = np.arange(50), np.repeat([0, 1], 25)
    [(tr, va)] = make_folds(rows, labels, n_folds=1, val_fraction=0.2, seed=0)
    assert len(va) == 10 and not set(tr) & set(va) and len(tr) == 40
    assert np.bincount(labels[va]).tolist() == [5, 5]


def test_too_many_folds_for_the_rarest_class_is_a_user_error():
    with pytest.raises(GalcatError, match="rarest class"):
        make_folds(np.arange(12), np.array([0] * 10 + [1] * 2), n_folds=5)


def _payload(model, **extra):
    return {**model.describe(), "state_dict": model.state_dict(), "stage": "ls-ce",
            "store_fingerprint": "abc", "epoch": 3, "train_indices": torch.arange(5),
            "val_indices": torch.tensor([7, 9]), **extra}  # fmt: skip


def test_checkpoint_round_trip_loads_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = GalaxyNet(
        "resnet18", embedding_dim=16, class_names=["E", "S"], scheme="toy", image_size=32
    ).eval()
    path = save_checkpoint(_payload(model), tmp_path / "best.pt")
    torch.load(path, weights_only=True)  # plain data only
    fold = load_fold_model(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = model(x), fold.model(x)
    assert torch.allclose(a["embedding"], b["embedding"]) and torch.allclose(a["logits"], b["logits"])
    assert fold.class_names == ["E", "S"] and fold.model.class_names == ["E", "S"]
    assert fold.model.scheme == "toy" and fold.scheme == "toy" and fold.store_fingerprint == "abc"
    assert fold.val_indices.tolist() == [7, 9] and fold.epoch == 3 and not fold.model.training
    assert resolve_checkpoint_path(tmp_path / "best.pt") == path


class _Evil:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_a_checkpoint_that_needs_pickle_is_refused(tmp_path):
    model = GalaxyNet("resnet18", embedding_dim=8, class_names=["a", "b"])
    path = tmp_path / "evil.pt"
    torch.save({**_payload(model), "extra": _Evil()}, path)
    with pytest.raises(GalcatError, match="refusing a checkpoint that needs pickle"):
        load_checkpoint(path)
    whole = tmp_path / "whole_model.pt"
    torch.save(model, whole)  # the paper's whole-model pickles
    with pytest.raises(GalcatError, match="needs pickle"):
        safe_load(whole)
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(GalcatError):
        load_checkpoint(tmp_path / "junk.pt")


def test_network_outputs_and_transfer_replaces_heads_whose_classes_differ():
    torch.manual_seed(0)
    votes = GalaxyNet("resnet18", embedding_dim=16, n_votes=37, image_size=32).eval()
    out = votes(torch.randn(2, 3, 32, 32))
    assert set(out) == {"embedding", "votes"} and out["votes"].shape == (2, 37)
    assert ((out["votes"] > 0) & (out["votes"] < 1)).all()
    hubble = GalaxyNet("resnet18", embedding_dim=16, class_names=list("ABC")).eval()
    parts = transfer_weights(hubble, votes.state_dict(), votes.describe())
    assert parts == ["trunk", "embed"]
    assert torch.equal(hubble.trunk.conv1.weight, votes.trunk.conv1.weight)
    other = GalaxyNet("resnet18", embedding_dim=16, class_names=list("ABC"))
    assert "classifier" in transfer_weights(other, hubble.state_dict(), hubble.describe())
    assert torch.equal(other.classifier.weight, hubble.classifier.weight)
    with pytest.raises(GalcatError, match="resnet34"):
        transfer_weights(GalaxyNet("resnet34", 16, list("ABC")), hubble.state_dict(), hubble.describe())


def test_config_defaults_depend_on_device_and_bad_values_are_refused():
    cpu = resolve_config(TrainConfig(store="s", stage="ls-ce"), "cpu", 64)
    assert (cpu.arch, cpu.image_size, cpu.batch_size, cpu.epochs) == ("resnet18", 64, 64, 20)
    assert (cpu.schedule, cpu.select_by, cpu.balance, cpu.flips) == ("onecycle", "macro_f1", "sampler", True)
    assert (cpu.optimizer, cpu.lr) == ("adam", 1e-3)
    dml = resolve_config(TrainConfig(store="s", stage="dml", init="runs/a"), "cpu", 64)
    assert (dml.epochs, dml.lr, dml.proxy_lr, dml.select_by) == (6, 1e-4, 1e-2, "map_at_r")
    assert (dml.predictor, dml.knn_k) == ("knn", 20)
    gpu = resolve_config(TrainConfig(store="s", stage="dml"), "cuda", 75)
    assert (gpu.arch, gpu.batch_size) == ("resnet50", 320)
    with pytest.raises(GalcatError, match="--loss"):
        resolve_config(TrainConfig(store="s", stage="dml", loss="arcface"), "cpu", 64)
    with pytest.raises(GalcatError, match="--stage"):
        resolve_config(TrainConfig(store="s", stage="simclr"), "cpu", 64)


def test_user_trunk_weights_load_weights_only_and_must_fit(tmp_path):
    import torchvision

    from galcat.model.networks import load_trunk_weights

    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    model = GalaxyNet("resnet18", embedding_dim=8, class_names=["a", "b"])
    load_trunk_weights(model, tmp_path / "r18.pt")
    assert torch.equal(model.trunk.conv1.weight, reference.conv1.weight)
    with pytest.raises(GalcatError, match="do not fit a resnet34 trunk"):
        load_trunk_weights(GalaxyNet("resnet34", 8, ["a", "b"]), tmp_path / "r18.pt")


def test_batchnorm_recalibration_replaces_stale_running_statistics():
    """After recalibration, eval-mode BN normalises with the data's own mean and variance."""
    from galcat.model.steps import recalibrate_batchnorm

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    bn = model[1]
    model.eval()
    bn.running_mean.fill_(50.0)  # statistics of some older network
    bn.running_var.fill_(1e-3)
    images = torch.randint(0, 256, (24, 8, 8, 3), dtype=torch.uint8)
    batches = [{"images": images[i : i + 8]} for i in range(0, 24, 8)]

    def to_float(x):
        return x.permute(0, 3, 1, 2).float() / 255.0

    seen = recalibrate_batchnorm(model, batches, to_float, torch.device("cpu"), max_images=16)
    assert seen == 16 and not model.training and bn.momentum == 0.1
    with torch.no_grad():
        features = model[0](to_float(images[:16]))
    assert torch.allclose(bn.running_mean, features.mean((0, 2, 3)), atol=1e-5)
    # cumulative average of two batches' unbiased variances
    per_batch = [features[i : i + 8].transpose(0, 1).reshape(4, -1).var(1) for i in (0, 8)]
    assert torch.allclose(bn.running_var, (per_batch[0] + per_batch[1]) / 2, atol=1e-5)
