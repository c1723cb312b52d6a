"""A DML model's catalogue: the neighbour columns are the model's own vote, so they agree with it."""

from __future__ import annotations

import numpy as np
import pytest

from galcat.model import TrainConfig, load_run, train
from galcat.outputs.embed import EmbedConfig, embed_catalogue
from galcat.schemes import HUBBLE9
from galcat.store import open_store


@pytest.fixture(scope="module")
def dml_run(tiny, tmp_path_factory):
    run_dir, store = tiny
    out = tmp_path_factory.mktemp("vote-columns") / "dml"
    train(
        TrainConfig(
            store=str(store), stage="dml", loss="proxy-nca", miner="pair", init=str(run_dir), out=str(out),
            folds=1, val_fraction=0.25, epochs=1, batch_size=16, max_steps=2, image_size=32, device="cpu",
            embedding_dim=16, progress=False, knn_k=7, bn_images=16, predict_turns=1,
        )
    )  # fmt: skip
    return out, store


def test_pred_equals_the_neighbour_vote_on_every_row(dml_run, tmp_path):
    from galcat.synth import make_synthetic_store

    run_dir, train_store = dml_run
    query = make_synthetic_store(tmp_path / "unseen.h5", HUBBLE9, n_per_class=3, size=32, seed=77)
    table = embed_catalogue(
        EmbedConfig(model=str(run_dir), store=str(query), reference=str(train_store), out=None)
    )
    assert list(table["pred_hubble9"]) == list(table["knn_hubble9"])
    fold = load_run(run_dir).folds[0]
    with open_store(train_store) as store:
        training_ids = set(np.asarray(store.catalogue["objid"]).astype(str)[fold.train_indices])
    voters = [row.split(",") for row in table["knn_ids"]]
    assert all(len(ids) == 7 for ids in voters)  # the model's k
    assert set().union(*voters) <= training_ids  # the saved training reference, as the model votes
    assert "vote" in table["knn_hubble9"].description
    # another k is a descriptive column of its own (same rule, the reference store's rows)
    other = embed_catalogue(
        EmbedConfig(model=str(run_dir), store=str(query), reference=str(train_store), k=3, calibrate=False)
    )
    assert all(len(row.split(",")) == 3 for row in other["knn_ids"])


def test_dml_validation_votes_against_the_training_reference(dml_run):
    """The epoch's accuracy is the saved predictor's: the vote of the validation rows among the
    training rows (not among each other). Validation sees one view, so the run predicts one view."""
    run_dir, store = dml_run
    run = load_run(run_dir)
    fold = run.folds[0]
    result = run.predictor(calibrate=False).predict_store(store, fold.val_indices)
    with open_store(store) as opened:
        truth = opened.label_codes(fold.scheme)[fold.val_indices]
    accuracy = float((result.probabilities.argmax(1) == truth).mean())
    assert fold.val_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
