"""Classification metrics, ROC, bootstrap, figures, report and `galcat evaluate` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score
from typer.testing import CliRunner

from galcat.cli import app
from galcat.errors import GalcatError
from galcat.evaluate.bootstrap import bootstrap_intervals
from galcat.evaluate.labels import align_codes
from galcat.evaluate.plots import plot_confusion, plot_roc
from galcat.evaluate.report import report_markdown, summarize_folds, write_report
from galcat.evaluate.roc import roc_curves
from galcat.metrics.classification import classification_metrics
from galcat.schemes import HUBBLE9, HUBBLE11

CLASSES = ["a", "b", "c", "d"]
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])  # class d absent from the test set
Y_PRED = np.array([0, 0, 1, 3, 1, 1, 0, 2, 0, 0])


def test_classification_metrics_use_y_true_first_and_all_labels():
    m = classification_metrics(Y_TRUE, Y_PRED, CLASSES)
    assert m["accuracy"] == pytest.approx(0.5)
    labels = [0, 1, 2, 3]
    expected_f1 = f1_score(Y_TRUE, Y_PRED, labels=labels, average="macro", zero_division=0)
    assert m["macro_f1"] == pytest.approx(expected_f1)
    # class a: 2 of 4 true a's found (recall 0.5); 5 predicted a's, 2 right (precision 0.4).
    # The paper's swapped call would report these two numbers the other way round.
    assert m["per_class"]["a"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["a"]["precision"] == pytest.approx(0.4)
    assert m["per_class"]["a"]["precision"] == pytest.approx(
        precision_score(Y_TRUE, Y_PRED, labels=[0], average="macro")
    )
    assert m["per_class"]["a"]["recall"] == pytest.approx(
        recall_score(Y_TRUE, Y_PRED, labels=[0], average="macro")
    )
    assert m["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["weighted_f1"] != pytest.approx(f1_score(Y_PRED, Y_TRUE, average="weighted", zero_division=0))


def test_confusion_rows_are_true_classes_in_scheme_order():
    m = classification_metrics(Y_TRUE, Y_PRED, CLASSES)
    np.testing.assert_array_equal(m["confusion"], confusion_matrix(Y_TRUE, Y_PRED, labels=[0, 1, 2, 3]))
    norm = np.array(m["confusion_normalized"])
    np.testing.assert_allclose(norm[:3].sum(axis=1), 1.0)
    assert norm[3].sum() == 0  # no true d: an all-zero row, not NaN
    assert norm[0].tolist() == [0.5, 0.25, 0.0, 0.25]


def test_bad_codes_raise():
    with pytest.raises(GalcatError, match="0..3"):
        classification_metrics([0, 4], [0, 1], CLASSES)
    with pytest.raises(GalcatError, match="no labelled"):
        classification_metrics([], [], CLASSES)


def test_align_codes_collapses_hubble11_and_rejects_unknown_classes():
    codes11 = np.array([0, 1, 2, 3, 10, -1])  # E0, E3-5, E7, Irr, Sc, missing
    out = align_codes(codes11, HUBBLE11, HUBBLE9)
    assert [HUBBLE9[c] if c >= 0 else None for c in out] == ["E", "E", "E", "Irr", "Sc", None]
    np.testing.assert_array_equal(align_codes([2, 0], ["x", "y", "z"], ["z", "y", "x"]), [0, 2])
    with pytest.raises(GalcatError, match="'E' has no counterpart"):
        align_codes([0], HUBBLE9, HUBBLE11, source="rsa.h5")


def test_roc_skips_classes_without_positives():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=len(Y_TRUE))
    probs[np.arange(len(Y_TRUE)), Y_TRUE] += 1.0  # informative scores
    roc = roc_curves(Y_TRUE, probs / probs.sum(axis=1, keepdims=True), CLASSES)
    assert roc["skipped"] == ["d"]
    assert set(roc["per_class"]) == {"a", "b", "c"}
    assert roc["macro_auc"] == pytest.approx(np.mean([v["auc"] for v in roc["per_class"].values()]))
    assert roc["macro_auc"] > 0.8
    with pytest.raises(GalcatError, match="shape"):
        roc_curves(Y_TRUE, probs[:, :3], CLASSES)


def test_bootstrap_intervals_bracket_the_estimate_and_shrink_with_n():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    pred = np.where(rng.random(400) < 0.7, y, rng.integers(0, 3, 400))
    values = np.column_stack([rng.random(400) < 0.6, rng.random((400, 3))]).astype(float)
    values[:5] = np.nan  # lone queries are ignored
    ci = bootstrap_intervals(y, pred, 3, values, n_boot=300, seed=0)
    acc = np.mean(y == pred)
    assert ci["accuracy"][0] < acc < ci["accuracy"][1]
    assert ci["precision_at_1"][0] < np.nanmean(values[:, 0]) < ci["precision_at_1"][1]
    assert set(ci) == {"accuracy", "macro_f1", "precision_at_1", "r_precision", "map_at_r", "map_at_10_v0997"}
    small = bootstrap_intervals(y[:40], pred[:40], 3, n_boot=300, seed=0)
    assert np.diff(small["accuracy"])[0] > np.diff(ci["accuracy"])[0]
    assert bootstrap_intervals(y, pred, 3, n_boot=0) == {}


def _fold(acc, rng):
    probs = rng.dirichlet(np.ones(4), size=len(Y_TRUE))
    return {
        "fold": len(str(acc)),
        "classification": classification_metrics(Y_TRUE, Y_PRED, CLASSES) | {"accuracy": acc},
        "retrieval": {"precision_at_1": 0.3, "r_precision": 0.2, "map_at_r": 0.1, "map_at_10_v0997": 0.4},
        "roc": roc_curves(Y_TRUE, probs, CLASSES),
        "bootstrap": {"accuracy": [acc - 0.1, acc + 0.1]},
    }


def test_report_from_arrays(tmp_path):
    rng = np.random.default_rng(2)
    folds = [_fold(0.5, rng), _fold(0.7, rng)]
    summary = summarize_folds(folds)
    assert summary["accuracy"] == {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "n_folds": 2}
    metrics = {
        "model": "efigi-lsce",
        "query": "rsa.h5",
        "reference": "train",
        "scheme": "x",
        "class_names": CLASSES,
        "folds": folds,
        "summary": summary,
    }
    text = report_markdown(metrics)
    assert "| efigi-lsce | 4 | 60.00 ± 10.00 % |" in text
    assert "MAP@10 v0.9.97" in text and "MAP@R" in text
    paths = write_report(tmp_path, metrics)
    saved = json.loads(paths["metrics"].read_text())
    assert saved["summary"]["map_at_r"]["mean"] == pytest.approx(0.1)
    for name in ("confusion", "roc"):
        with Image.open(paths[name]) as img:
            assert img.size[0] > 500 and img.size[1] > 500


def test_plots_from_plain_arrays(tmp_path):
    counts = np.array(confusion_matrix(Y_TRUE, Y_PRED, labels=[0, 1, 2, 3]))
    norm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    path = plot_confusion(norm, list(HUBBLE9[:4]), tmp_path / "c.png", counts=counts)
    roc = roc_curves(Y_TRUE, np.eye(4)[Y_PRED] * 0.9 + 0.025, CLASSES)
    path2 = plot_roc(roc, tmp_path / "sub" / "r.png")
    for p in (path, path2):
        with Image.open(p) as img:
            pixels = np.asarray(img.convert("L"))
        assert pixels.std() > 10  # something was drawn


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from galcat.model import TrainConfig, train
    from galcat.synth import make_synthetic_store

    root = tmp_path_factory.mktemp("evaluate")
    store = make_synthetic_store(root / "train.h5", HUBBLE9, n_per_class=4, size=32, seed=0)
    cfg = TrainConfig(
        store=str(store),
        stage="ce",
        out=str(root / "run"),
        folds=2,
        epochs=1,
        arch="resnet18",
        batch_size=16,
        max_steps=1,
        device="cpu",
        embedding_dim=8,
    )
    train(cfg)
    return root, store, root / "run"


def test_evaluate_cli_end_to_end(tiny_run):
    root, store, run = tiny_run
    query = __import__("galcat.synth", fromlist=["x"]).make_synthetic_store(
        root / "rsa11.h5", HUBBLE11, n_per_class=2, size=32, seed=5
    )
    out = root / "report"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--model",
            str(run),
            "--query",
            str(query),
            "--scheme",
            "hubble11",
            "--bootstrap",
            "20",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "MAP@R" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["query_scheme"] == "hubble11" and metrics["class_names"] == list(HUBBLE9)
    assert [f["fold"] for f in metrics["folds"]] == [0, 1]
    fold = metrics["folds"][0]
    assert fold["n_query"] == 22 and fold["n_reference"] == 18  # 11 classes x 2; 36 rows / 2 folds
    assert sum(fold["classification"]["per_class"]["E"]["support"] for _ in [0]) == 6  # E0+E3-5+E7
    for key in ("accuracy", "macro_f1", "precision_at_1", "map_at_r", "map_at_10_v0997", "macro_auc"):
        assert metrics["summary"][key]["n_folds"] == 2
    assert set(fold["bootstrap"]) >= {"accuracy", "map_at_r"}
    assert (out / "confusion.png").stat().st_size > 10_000 and (out / "roc.png").exists()
    assert "unweighted F1" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()  # the same report, one file, figures inline
    assert "<th>unweighted F1</th>" in page and page.count('src="data:image/png;base64,') >= 2
    assert 'src="confusion.png"' not in page and "<script" not in page


def test_evaluate_on_own_store_uses_validation_rows(tiny_run, tmp_path):
    from galcat.evaluate.api import EvaluateConfig, evaluate

    _, store, run = tiny_run
    metrics = evaluate(
        EvaluateConfig(model=str(run), query=str(store), folds="1", bootstrap=0, out=str(tmp_path))
    )
    fold = metrics["folds"][0]
    assert fold["fold"] == 1 and fold["query_rows"] == "the fold's validation rows"
    assert fold["n_query"] + fold["n_reference"] == 36


def _store_with(path, schemes):
    from galcat.store import write_store
    from galcat.synth import synthetic_catalogue_and_images

    table, images = synthetic_catalogue_and_images(["E", "Sa"], n_per_class=2, size=32, seed=1)
    table.meta["label_schemes"] = schemes
    if schemes and "shape" in schemes:
        table["shape"] = ["round", "disc", "round", "disc"]
    if schemes and "hubble9" in schemes:
        table["hubble9"] = ["?", "?", "?", "?"]  # not a class: every row unlabelled
    return write_store(path, table, images)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("classes", "has no counterpart among the model's classes"),
        ("unlabelled", "store has no labels"),
        ("no_rows", "no labelled rows in scheme 'hubble9'"),
        ("folds", "no fold"),
        ("missing", "no such store"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny_run, tmp_path, case, message):
    _, store, run = tiny_run
    query = {
        "classes": lambda: _store_with(tmp_path / "q.h5", {"shape": ["round", "disc"]}),
        "unlabelled": lambda: _store_with(tmp_path / "q.h5", {}),
        "no_rows": lambda: _store_with(tmp_path / "q.h5", {"hubble9": list(HUBBLE9)}),
        "folds": lambda: store,
        "missing": lambda: tmp_path / "nope.h5",
    }[case]()
    args = ["evaluate", "--model", str(run), "--query", str(query), "--out", str(tmp_path / "r")]
    if case == "folds":
        args += ["--folds", "7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_evaluate_arrays_without_probs_classifies_by_nearest_reference():
    from galcat.evaluate.api import evaluate_arrays

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 300)
    emb = (np.eye(4)[labels] * 2 + rng.normal(size=(300, 4))).astype(np.float32)
    fold = evaluate_arrays(emb, labels, None, None, CLASSES, probs=None, bootstrap=50)
    assert fold["classifier"] == "1-nearest reference" and fold["roc"] is None
    # same-source 1-NN accuracy is precision@1 by definition
    assert fold["classification"]["accuracy"] == pytest.approx(fold["retrieval"]["precision_at_1"])
    assert 0.4 < fold["classification"]["accuracy"] < 1.0
    lo, hi = fold["bootstrap"]["map_at_r"]
    assert lo < fold["retrieval"]["map_at_r"] < hi


def test_the_report_names_the_classifier_that_made_the_probabilities():
    from types import SimpleNamespace

    from galcat.evaluate.api import classifier_name, evaluate_arrays

    assert classifier_name(SimpleNamespace(predictor="softmax")) == "softmax head"
    assert "prototype" in classifier_name(SimpleNamespace(predictor="proxy"))
    assert classifier_name(SimpleNamespace(predictor="knn", knn_k=7)).startswith("distance-weighted 7-NN")
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(12, 4)), np.arange(12) % 3
    probs = np.full((12, 3), 1 / 3)
    fold = evaluate_arrays(emb, labels, emb, labels, ["a", "b", "c"], probs=probs, classifier="k-NN vote")
    assert fold["classifier"] == "k-NN vote"
