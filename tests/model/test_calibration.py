"""Temperature scaling, ECE, Brier and fold averaging against hand computations (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from galcat.errors import GalcatError
from galcat.model.calibration import (
    Calibration,
    brier_score,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    load_calibration,
    negative_log_likelihood,
    reliability_bins,
    save_calibration,
    softmax,
)
from galcat.model.ensemble import combine, mean_embedding, normalised_entropy

# Four rows, two classes. Top-class confidences 0.9, 0.9, 0.6, 0.55; rows 0, 2 right, 1, 3 wrong.
PROBS = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.55, 0.45]])
LABELS = np.array([0, 1, 1, 1])


def test_ece_and_brier_match_a_hand_computation():
    # 15 bins of width 1/15: 0.9 -> bin (0.8667, 0.9333]; 0.6 -> (0.5333, 0.6]; 0.55 -> same bin.
    # bin 0.9: 2 rows, accuracy 0.5, confidence 0.9 -> |gap| 0.4, weight 2/4
    # bin 0.6: 2 rows (0.6 right, 0.55 wrong), accuracy 0.5, confidence 0.575 -> gap 0.075, weight 2/4
    assert expected_calibration_error(PROBS, LABELS) == pytest.approx(0.5 * 0.4 + 0.5 * 0.075)
    bins = reliability_bins(PROBS, LABELS)
    assert sum(bins["count"]) == 4 and bins["count"][13] == 2 and bins["count"][8] == 2
    # Brier: sum_c (p_c - y_c)^2 per row: 0.02, 1.62, 0.32, 0.605 -> mean 0.64125
    assert brier_score(PROBS, LABELS) == pytest.approx((0.02 + 1.62 + 0.32 + 0.605) / 4)
    assert negative_log_likelihood(PROBS, LABELS) == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.6, 0.45])))
    # A perfectly calibrated confidence (accuracy = confidence in every bin) has ECE 0.
    probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    assert expected_calibration_error(probs, np.array([0, 0, 1])) == pytest.approx(0.0)
    with pytest.raises(GalcatError, match="class codes"):
        brier_score(PROBS, np.array([0, 1, 2, 0]))


def _overconfident(n, seed):
    """Labels drawn from softmax(z) but the model reports 4 z: overconfident by T = 4."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5)) * 1.5
    p = softmax(z)
    labels = np.array([rng.choice(5, p=row) for row in p])
    return 4.0 * z, labels


def test_temperature_scaling_lowers_nll_on_a_held_out_split_and_keeps_the_argmax():
    fit_logits, fit_labels = _overconfident(600, seed=1)
    test_logits, test_labels = _overconfident(600, seed=2)
    t = fit_temperature(fit_logits, fit_labels)
    assert 3.0 < t < 5.5  # recovers the true over-confidence factor 4
    before, after = softmax(test_logits), softmax(test_logits, t)
    assert negative_log_likelihood(after, test_labels) < 0.8 * negative_log_likelihood(before, test_labels)
    assert expected_calibration_error(after, test_labels) < expected_calibration_error(before, test_labels)
    assert brier_score(after, test_labels) < brier_score(before, test_labels)
    np.testing.assert_array_equal(after.argmax(axis=1), before.argmax(axis=1))
    # Under-confident logits get T < 1.
    assert fit_temperature(fit_logits / 16.0, fit_labels) < 0.5


def test_calibration_file_round_trip_and_staleness(tmp_path):
    logits, labels = _overconfident(200, seed=3)
    cal = calibrate(logits, labels, model_hash="abc")
    assert cal.nll_after < cal.nll_before and cal.n_rows == 200
    path = save_calibration(tmp_path / "fold0" / "calibration.json", cal)
    assert load_calibration(path, "abc") == cal
    assert load_calibration(path, "another checkpoint") is None
    assert load_calibration(tmp_path / "missing.json") is None
    path.write_text("{not json")
    with pytest.raises(GalcatError, match="calibration"):
        load_calibration(path)
    save_calibration(path, Calibration(99.0, 1, 0, 0, 0, 0))
    with pytest.raises(GalcatError, match="outside"):
        load_calibration(path)


def test_fold_pooling_matches_a_hand_computation():
    # 3 folds, 2 rows, 3 classes.
    folds = np.array(
        [
            [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]],
            [[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]],
            [[0.3, 0.6, 0.1], [0.3, 0.4, 0.3]],
        ]
    )
    mean, std, entropy, agreement = combine(folds)
    # normalised geometric mean: row 0 is (0.105, 0.048, 0.001) ** (1/3), renormalised
    geo = np.array([[0.105, 0.048, 0.001], [0.006, 0.06, 0.054]]) ** (1 / 3)
    np.testing.assert_allclose(mean, geo / geo.sum(axis=1, keepdims=True), atol=1e-6)
    assert mean[0] == pytest.approx([0.5045, 0.3886, 0.1069], abs=1e-4)
    # the same pool as the softmax of the mean log-probabilities (the mean logits)
    np.testing.assert_allclose(mean, softmax(np.log(folds).mean(axis=0)), atol=1e-6)
    # population std of (0.7, 0.5, 0.3) = sqrt(((0.2)^2 + 0 + (0.2)^2) / 3)
    assert std[0, 0] == pytest.approx(np.sqrt(0.08 / 3), abs=1e-6)
    assert std[0, 2] == pytest.approx(0.0, abs=1e-7)
    h0 = -(mean[0] * np.log(mean[0])).sum() / np.log(3)
    assert entropy[0] == pytest.approx(h0, abs=1e-6)
    # row 0: pool argmax 0; fold argmaxes 0, 0, 1 -> 2/3 agree.
    # row 1: pool proportional to (0.18, 0.39, 0.38) -> class 1; fold argmaxes 1, 2, 1 -> 2/3.
    np.testing.assert_allclose(agreement, [2 / 3, 2 / 3], atol=1e-6)
    one_hot = np.array([[[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])
    m, s, h, a = combine(one_hot)
    assert h[0] == pytest.approx(0.0, abs=1e-6) and a[0] == 1.0 and s.max() == 0.0
    # a fold's exact zero (a softmax underflow) gives a finite pool that still sums to 1
    zero = combine(np.array([[[0.0, 1.0]], [[0.9, 0.1]]]))[0]
    assert np.isfinite(zero).all() and zero.sum() == pytest.approx(1.0) and zero[0, 1] > 0.99
    assert normalised_entropy(np.full((1, 4), 0.25))[0] == pytest.approx(1.0)


def test_pooled_calibrated_folds_are_sharper_than_their_arithmetic_mean():
    # two calibrated folds that disagree: the arithmetic mean is flatter than either fold
    folds = np.array([[[0.9, 0.1]], [[0.6, 0.4]]])
    pooled = combine(folds)[0]
    assert pooled[0, 0] > folds[:, 0, 0].mean()


def test_mean_embedding_is_the_normalised_mean_of_normalised_folds():
    folds = np.array([[[3.0, 4.0]], [[0.0, 2.0]]])  # unit vectors (0.6, 0.8) and (0, 1)
    expected = np.array([0.3, 0.9]) / np.linalg.norm([0.3, 0.9])
    np.testing.assert_allclose(mean_embedding(folds)[0], expected, atol=1e-6)


def _calibrated(n, seed):
    """Labels drawn from softmax(z) and the model reports z: already calibrated (best T = 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)) * 2.0
    p = softmax(z)
    return z, np.array([rng.choice(2, p=row) for row in p])


def test_a_validation_split_too_small_to_support_a_temperature_leaves_t_at_one():
    logits, labels = _calibrated(40, seed=5)  # a 200-galaxy store's 20 % validation split
    assert fit_temperature(logits, labels) != pytest.approx(1.0, abs=0.05)  # the raw fit moves
    cal = calibrate(logits, labels)
    assert cal.temperature == 1.0 and cal.nll_after == cal.nll_before
    assert "too few" in cal.note and "40" in cal.note
    # Over many seeds of a calibrated model, a T fitted on 40 rows makes unseen rows worse on
    # average, while galcat's choice never changes them.
    test_logits, test_labels = _calibrated(4000, seed=6)
    base = negative_log_likelihood(softmax(test_logits), test_labels)
    raw = [fit_temperature(*_calibrated(40, seed=s)) for s in range(20)]
    worse = np.mean([negative_log_likelihood(softmax(test_logits, t), test_labels) for t in raw])
    assert worse > base
    kept = [calibrate(*_calibrated(40, seed=s)).temperature for s in range(20)]
    assert kept == [1.0] * 20


def test_temperature_is_regularised_and_kept_only_when_it_helps_unseen_rows():
    logits, labels = _overconfident(150, seed=7)
    cal = calibrate(logits, labels)
    assert cal.note == "" and 2.0 < cal.temperature < 6.0 and cal.nll_after < cal.nll_before
    # the prior pulls a fit on few rows towards 1, never past the unregularised fit
    free = fit_temperature(logits[:30], labels[:30])
    shrunk = fit_temperature(logits[:30], labels[:30], prior_rows=10.0)
    assert abs(np.log(shrunk)) < abs(np.log(free))
    # a model already calibrated: the cross-validated check refuses or moves T very little
    logits, labels = _calibrated(300, seed=8)
    cal = calibrate(logits, labels)
    assert cal.temperature == 1.0 or abs(np.log(cal.temperature)) < 0.2
    if cal.temperature == 1.0:
        assert "did not lower" in cal.note
