"""The one predictor: a run's folds, image size, turns, temperatures and vote behind one call."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import galcat
from galcat.errors import GalcatError
from galcat.model.calibration import softmax
from galcat.store import open_store

PACKAGE = Path(galcat.__file__).parent


def test_only_the_predictor_calls_the_low_level_forward_pass():
    """Every module of the package that imports ``galcat.model.inference`` (statically, also inside
    functions): only the predictor, so evaluate, embed, classify, neighbours, the probe and the
    prototypes all predict through it."""
    callers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(name.startswith("galcat.model.inference") for name in names):
                callers.add(path.relative_to(PACKAGE.parent).as_posix())
    assert callers == {"galcat/model/predictor.py"}
    assert "inference.predict(" not in "".join(p.read_text() for p in PACKAGE.rglob("*.py"))


def test_a_python_session_predicts_an_in_memory_array(tiny):
    run_dir, store = tiny
    predictor = galcat.load_run(run_dir).predictor()
    result = predictor.predict(np.zeros((4, 64, 64, 3), np.uint8))  # resized to the run's 32 px
    assert predictor.image_size == 32 and result.probabilities.shape == (4, 9)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert set(result.predicted) <= set(result.class_names) and len(result.predicted) == 4
    assert result.embeddings.shape == (4, 16)
    assert np.allclose(np.linalg.norm(result.embeddings, axis=1), 1.0, atol=1e-5)
    assert result.fold_logits.shape == (1, 4, 9) and result.entropy.shape == (4,)
    assert result.std.shape == (4, 9) and np.all(result.agreement == 1.0)
    with pytest.raises(GalcatError, match=r"uint8 array \(N, H, W, 3\)"):
        predictor.predict(np.zeros((4, 64, 64), np.uint8))


def test_an_array_and_the_store_rows_it_came_from_predict_alike(tiny_folds):
    run_dir, store = tiny_folds
    predictor = galcat.load_run(run_dir).predictor(calibrate=False)
    rows = np.array([5, 1, 7])
    with open_store(store) as opened:
        images = opened.read_images(rows)
    from_store = predictor.predict_store(store, rows)
    from_array = predictor.predict(images)
    assert from_store.index.tolist() == rows.tolist() and from_store.folds == [0, 1]
    np.testing.assert_allclose(from_array.probabilities, from_store.probabilities, atol=1e-5)
    np.testing.assert_allclose(from_array.fold_logits, from_store.fold_logits, atol=1e-4)
    # one softmax: the calibrated fold probabilities are the softmax of the logits over T
    scaled = predictor.select([1])
    scaled.temperatures = [2.0]
    one = scaled.predict(images)
    np.testing.assert_allclose(one.fold_probabilities[0], softmax(one.fold_logits[0], 2.0), atol=1e-6)
    np.testing.assert_allclose(one.raw_fold_probabilities[0], softmax(one.fold_logits[0]), atol=1e-6)


def test_the_predictor_owns_turns_and_calibration(tiny_folds):
    run_dir, store = tiny_folds
    run = galcat.load_run(run_dir)
    one_view = run.predictor(folds="1", predict_turns=1, calibrate=False)
    assert one_view.models[0].rotations == 1 and run.folds[1].model.rotations == 4  # the run is untouched
    calibrated = run.predictor(folds=1)
    assert calibrated.calibrations[0] is not None
    assert calibrated.temperatures == [calibrated.calibrations[0].temperature]
    assert (Path(run_dir) / "fold1" / "calibration.json").exists()


def test_short_reprs_and_public_names(tiny):
    run_dir, store = tiny
    run = galcat.load_run(run_dir)
    text = repr(run) + repr(run.folds) + repr(run.predictor(calibrate=False)) + repr(open_store(store))
    assert "Conv2d" not in text and len(text) < 600 and "resnet18" in text
    from galcat import model, outputs

    assert {"embed_catalogue", "classify_targets", "find_neighbours"} <= set(dir(outputs))
    assert {"Predictor", "load_run", "train"} <= set(dir(model)) and "load_run" in dir(galcat)
