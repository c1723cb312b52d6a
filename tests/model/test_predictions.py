"""DML predictions from the metric space: nearest proxy, distance-weighted k-NN vote, predict()."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pytorch_metric_learning import losses

from galcat.errors import GalcatError
from galcat.model import TrainConfig, load_run, train
from galcat.model.config import check_train_config
from galcat.model.inference import predict
from galcat.model.losses import proxy_view
from galcat.model.networks import proxy_logits
from galcat.model.vote import PRIOR, knn_vote_logits, vote_probabilities
from galcat.store import open_store

CLASSES = ["E", "Sc", "Irr"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    return make_synthetic_store(tmp_path_factory.mktemp("pred") / "s.h5", CLASSES, n_per_class=8, size=32)


@pytest.fixture(scope="module")
def lsce(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("lsce") / "run"
    train(TrainConfig(store=str(store), out=str(out), stage="ls-ce", folds=1, val_fraction=0.25, epochs=1,
                      batch_size=6, max_steps=2, embedding_dim=16, progress=False, bn_images=12))  # fmt: skip
    return out


def dml(store, lsce, out, **kw):
    cfg = dict(store=str(store), out=str(out), stage="dml", init=str(lsce), folds=1, val_fraction=0.25,
               epochs=1, batch_size=6, max_steps=2, embedding_dim=16, progress=False,
               bn_images=12)  # fmt: skip
    return train(TrainConfig(**{**cfg, **kw}))


def test_proxy_logits_are_scaled_cosines_by_hand():
    emb = torch.tensor([[2.0, 0.0], [-3.0, 0.0]])
    proxies = torch.tensor([[1.0, 0.0], [0.0, 5.0], [-1.0, 1.0]])
    got = proxy_logits(emb, proxies, 4.0)
    expected = 4.0 * torch.tensor([[1.0, 0.0, -1 / math.sqrt(2)], [-1.0, 0.0, 1 / math.sqrt(2)]])
    assert torch.allclose(got, expected, atol=1e-6)
    assert got.argmax(1).tolist() == [0, 2]  # the nearest proxy


def test_proxy_posteriors_equal_each_losss_own_softmax():
    torch.manual_seed(0)
    emb = torch.randn(5, 4)
    nca = losses.ProxyNCALoss(num_classes=3, embedding_size=4, softmax_scale=3)
    proxies, scale = proxy_view(nca)
    assert scale == 6.0
    unit_e, unit_p = torch.nn.functional.normalize(emb), torch.nn.functional.normalize(nca.proxies.detach())
    nca_posterior = torch.softmax(-3 * torch.cdist(unit_e, unit_p) ** 2, dim=1)  # ProxyNCA's softmax
    assert torch.allclose(torch.softmax(proxy_logits(emb, proxies, scale), 1), nca_posterior, atol=1e-5)
    ns = losses.NormalizedSoftmaxLoss(num_classes=3, embedding_size=4, temperature=0.05)
    proxies, scale = proxy_view(ns)
    assert proxies.shape == (3, 4) and scale == pytest.approx(20.0)
    assert torch.allclose(proxy_logits(emb, proxies, scale), ns.get_logits(emb).detach(), atol=1e-4)
    anchor = losses.ProxyAnchorLoss(num_classes=3, embedding_size=4, alpha=5)
    assert proxy_view(anchor)[1] == 5.0


def test_distance_weighted_vote_by_hand():
    probs = vote_probabilities([[1.0, 2.0, 4.0]], [[0, 1, 0]], 3)
    shares = np.array([1.25, 0.5, 0.0]) / 1.75  # weights 1, 1/2, 1/4
    assert np.allclose(probs[0], (1 - PRIOR) * shares + PRIOR / 3, atol=1e-6)
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.9, 0.1]])
    labels = np.array([0, 1, 2, 1])
    query = np.array([[1.0, 0.05]])
    logits = knn_vote_logits(query, reference, labels, 3, k=2)
    unit = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    d = np.linalg.norm(unit - query / np.linalg.norm(query), axis=1)  # nearest two: rows 0 and 3
    w0, w1 = 1 / (d[0] + 1e-6), 1 / (d[3] + 1e-6)
    expected = (1 - PRIOR) * np.array([w0, w1, 0]) / (w0 + w1) + PRIOR / 3
    assert np.allclose(np.exp(logits[0]), expected, atol=1e-5) and logits.dtype == np.float32


def test_a_proxy_run_predicts_the_nearest_proxy(store, lsce, tmp_path):
    res = dml(store, lsce, tmp_path / "proxy", loss="proxy-nca", predictor="centroid", predict_turns=1)
    assert {"accuracy", "macro_f1", "map_at_r"} <= set(res.summary["metrics"])
    ckpt = torch.load(tmp_path / "proxy" / "fold0" / "best.pt", weights_only=True)
    assert ckpt["predictor"] == "proxy" and not any(k.startswith("classifier.") for k in ckpt["state_dict"])
    fold = load_run(tmp_path / "proxy").folds[0]
    rows = fold.val_indices[::-1].copy()  # any order: predictions follow it
    pred = predict(fold.model, store, indices=rows, batch_size=4)
    assert pred.index.tolist() == rows.tolist() and not fold.model.training
    proxies = ckpt["state_dict"]["proxies"].numpy()
    cos = (pred.embeddings / np.linalg.norm(pred.embeddings, axis=1, keepdims=True)) @ (
        proxies / np.linalg.norm(proxies, axis=1, keepdims=True)
    ).T
    scale = float(ckpt["state_dict"]["proxy_scale"])
    assert scale == 2.0  # ProxyNCA, softmax_scale 1
    assert np.allclose(pred.logits, scale * cos, atol=1e-4) and pred.logits.dtype == np.float32
    assert np.array_equal(pred.probs.argmax(1), cos.argmax(1))
    assert np.allclose(pred.probs, torch.softmax(torch.from_numpy(pred.logits), 1).numpy(), atol=1e-6)
    # the centroid prototypes are the class centroids of the saved weights' training embeddings
    train_emb = predict(fold.model, store, indices=fold.train_indices).embeddings
    train_emb /= np.linalg.norm(train_emb, axis=1, keepdims=True)
    with open_store(store) as opened:
        labels = opened.label_codes(fold.scheme)[fold.train_indices]
    present = np.unique(labels)  # the 3 drawn classes of the 9-class scheme
    centroids = np.stack([train_emb[labels == c].mean(0) for c in present])
    assert len(present) == 3 and np.allclose(unit(proxies[present]), unit(centroids), atol=1e-4)


def test_learned_proxies_predict_when_asked(store, lsce, tmp_path):
    dml(store, lsce, tmp_path / "learned", loss="proxy-nca", predictor="proxy")
    best = torch.load(tmp_path / "learned" / "fold0" / "best.pt", weights_only=True)
    last = torch.load(tmp_path / "learned" / "fold0" / "last.pt", weights_only=True)
    assert torch.allclose(best["state_dict"]["proxies"], last["objective"]["dml_loss.proxies"])


def unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_triplet_run_votes_among_its_saved_training_reference(store, lsce, tmp_path):
    dml(store, lsce, tmp_path / "tri", loss="triplet", miner="triplet", m_per_class=2, knn_k=3)
    saved = torch.load(tmp_path / "tri" / "fold0" / "reference.pt", weights_only=True)
    run = load_run(tmp_path / "tri")
    fold = run.folds[0]
    assert saved["rows"].tolist() == fold.train_indices.tolist()
    assert fold.model.predictor == "knn" and len(fold.model.reference_labels) == len(fold.train_indices)
    pred = run.predictor(calibrate=False).predict_store(store, fold.val_indices)
    ref, labels = saved["embeddings"].numpy(), saved["labels"].numpy()
    q = pred.fold_embeddings[0] / np.linalg.norm(pred.fold_embeddings[0], axis=1, keepdims=True)
    r = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    d = np.linalg.norm(q[:, None, :] - r[None, :, :], axis=2)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :3]
    expected = vote_probabilities(np.take_along_axis(d, nearest, 1), labels[nearest], len(fold.class_names))
    assert np.allclose(pred.probabilities, expected, atol=1e-4)
    assert np.allclose(pred.fold_logits[0], np.log(expected), atol=1e-3)
    # the vote's neighbours: the nearest training rows, their distances and labels
    assert pred.vote_rows[0].tolist() == fold.train_indices[nearest].tolist()
    assert np.allclose(pred.vote_distances[0], np.take_along_axis(d, nearest, 1), atol=1e-4)
    assert pred.vote_labels[0].tolist() == labels[nearest].tolist()


def test_a_proxy_loss_votes_among_its_training_reference_by_default(store, lsce, tmp_path):
    dml(store, lsce, tmp_path / "nca", loss="proxy-nca", knn_k=3)
    ckpt = torch.load(tmp_path / "nca" / "fold0" / "best.pt", weights_only=True)
    assert ckpt["predictor"] == "knn" and "proxies" not in ckpt["state_dict"]
    # the loss still learnt proxies, started at the first stage's class centroids
    last = torch.load(tmp_path / "nca" / "fold0" / "last.pt", weights_only=True)
    assert last["objective"]["dml_loss.proxies"].shape[0] == len(ckpt["class_names"])
    run = load_run(tmp_path / "nca")
    fold = run.folds[0]
    saved = torch.load(tmp_path / "nca" / "fold0" / "reference.pt", weights_only=True)
    pred = run.predictor(calibrate=False).predict_store(store, fold.val_indices)
    expected = knn_vote_logits(
        pred.fold_embeddings[0],
        saved["embeddings"].numpy(),
        saved["labels"].numpy(),
        len(fold.class_names),
        3,
    )
    assert np.allclose(pred.fold_logits[0], expected, atol=1e-4)


@pytest.mark.parametrize("predictor", ["centroid", "proxy"])
def test_prototypes_need_a_proxy_loss(predictor):
    with pytest.raises(GalcatError, match="has no proxies"):
        check_train_config(TrainConfig(store="s.h5", stage="dml", loss="contrastive", predictor=predictor))


def test_four_rotations_average_the_turned_views_by_hand(store, lsce):
    fold = load_run(lsce).folds[0]
    model = fold.model
    assert model.rotations == 4  # the default of a new run, saved in its checkpoint
    rows = fold.val_indices[:4]
    four = predict(model, store, indices=rows)
    model.rotations = 1
    one = predict(model, store, indices=rows)
    from galcat.model.data import make_augment

    with open_store(store) as opened:
        images = torch.from_numpy(opened.read_images(rows))
    x = make_augment(model.image_size, train=False)(images)
    with torch.no_grad():
        outs = [model(torch.rot90(x, turn, dims=(2, 3))) for turn in range(4)]
    emb = torch.stack([torch.nn.functional.normalize(o["embedding"], dim=1) for o in outs]).mean(0)
    logits = torch.stack([o["logits"] for o in outs]).mean(0)
    assert np.allclose(four.embeddings, emb.numpy(), atol=1e-4)
    assert np.allclose(four.logits, logits.numpy(), atol=1e-4)
    assert np.allclose(one.logits, outs[0]["logits"].numpy(), atol=1e-4)
    # a turned galaxy gets the same rotation-averaged embedding
    with torch.no_grad():
        turned = [model(torch.rot90(x, turn + 1, dims=(2, 3))) for turn in range(4)]
    emb_turned = torch.stack([torch.nn.functional.normalize(o["embedding"], dim=1) for o in turned]).mean(0)
    assert np.allclose(emb_turned.numpy(), emb.numpy(), atol=1e-4)


def test_evaluate_reuses_the_saved_training_reference(store, lsce, tmp_path, monkeypatch):
    """On the run's own store the retrieval reference is the fold's training rows, whose embeddings
    the k-NN vote's reference.pt already holds: evaluate uses them instead of embedding them again."""
    from galcat.evaluate import EvaluateConfig, api, evaluate

    dml(store, lsce, tmp_path / "nca", loss="proxy-nca", knn_k=3)
    embedded = []
    real_embed = api._embed
    monkeypatch.setattr(
        api,
        "_embed",
        lambda fold, labelled, *a: embedded.append(len(labelled.rows)) or real_embed(fold, labelled, *a),
    )

    def run(out, **kw):
        cfg = EvaluateConfig(
            model=str(tmp_path / "nca"), query=str(store), out=str(tmp_path / out), bootstrap=0, **kw
        )
        return evaluate(cfg)["folds"][0]

    reused = run("reused")
    assert len(embedded) == 1  # the validation rows only
    monkeypatch.setattr(api, "_saved_reference", lambda *a: None)
    embedded.clear()
    fresh = run("fresh")
    assert len(embedded) == 2  # validation rows, then the training rows
    for key in ("precision_at_1", "map_at_r"):
        assert reused["retrieval"][key] == pytest.approx(fresh["retrieval"][key], abs=1e-6)
    assert reused["classification"]["accuracy"] == fresh["classification"]["accuracy"]
    monkeypatch.undo()
    embedded.clear()
    monkeypatch.setattr(
        api,
        "_embed",
        lambda fold, labelled, *a: embedded.append(len(labelled.rows)) or real_embed(fold, labelled, *a),
    )
    run("one-view", predict_turns=1)
    assert len(embedded) == 2  # the saved reference holds four-turn embeddings: one view embeds afresh


def test_predict_turns_is_an_inference_option(store, lsce):
    """A four-turn run predicts from one view when asked (4x faster); the model hash, which keys
    calibrations and embedding indexes, follows the choice; other values are refused."""
    from galcat.model.checkpoint import model_hash

    four, one = load_run(lsce).folds[0], load_run(lsce, predict_turns=1).folds[0]
    assert (four.model.rotations, one.model.rotations) == (4, 1)
    assert model_hash(four.model) != model_hash(one.model)
    rows = four.val_indices[:4]
    four.model.rotations = 1
    assert np.allclose(predict(one.model, store, indices=rows).logits,
                       predict(four.model, store, indices=rows).logits, atol=1e-6)  # fmt: skip
    with pytest.raises(GalcatError, match="--predict-turns must be 1 or 4, got 3"):
        load_run(lsce, predict_turns=3)


def test_first_evaluation_predicts_the_validation_rows_once(store, lsce, tmp_path, monkeypatch):
    """The calibration fit and the scoring of a run's own store need the same validation rows:
    the first evaluation predicts them once, and the scores equal those of a fresh prediction."""
    from galcat.evaluate import EvaluateConfig, evaluate
    from galcat.model import inference

    dml(store, lsce, tmp_path / "nca", loss="proxy-nca", knn_k=3)
    calls = []
    real_predict = inference.predict
    monkeypatch.setattr(inference, "predict", lambda *a, **kw: calls.append(1) or real_predict(*a, **kw))

    def run(out):
        cfg = EvaluateConfig(
            model=str(tmp_path / "nca"), query=str(store), out=str(tmp_path / out), bootstrap=0
        )
        return evaluate(cfg)["folds"][0]

    first = run("first")
    assert len(calls) == 1  # calibration and scoring share one prediction; the reference is reference.pt
    assert (tmp_path / "nca" / "fold0" / "calibration.json").exists()
    calls.clear()
    second = run("second")  # the saved calibration: the scoring predicts the rows itself
    assert len(calls) == 1
    assert first["classification"] == second["classification"]
    assert first["retrieval"]["map_at_r"] == pytest.approx(second["retrieval"]["map_at_r"], abs=1e-6)
