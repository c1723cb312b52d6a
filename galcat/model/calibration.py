"""Temperature scaling and the calibration measures reported with it (ECE, Brier, NLL).

A network's softmax is usually over- or under-confident. Temperature scaling (Guo et al. 2017,
"On Calibration of Modern Neural Networks", ICML) divides every logit by one scalar T > 0,
fitted by minimising the negative log-likelihood on held-out rows; the argmax, and so the
accuracy, is unchanged. galcat fits T on each fold's validation split and saves it beside the
fold's checkpoint as ``fold{k}/calibration.json``, so every later prediction uses the same T.

A small validation split (a run trained on a few hundred labels) cannot support the fit: a T
fitted on 40 galaxies can make the calibration of galaxies it never saw worse. So T stays 1 below
:data:`MIN_ROWS` rows; above it T is a MAP fit (a Gaussian prior on log T at 0, worth
:data:`PRIOR_ROWS` rows) kept only when a T fitted on 4/5 of the rows lowers the NLL of the other
fifth, pooled over 5 folds. Either refusal is recorded in ``Calibration.note`` and printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from galcat.config import load_config, save_config
from galcat.errors import GalcatError

#: Equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15).
N_BINS = 15
#: Temperatures outside this range mean the fit ran away (e.g. perfectly separated rows).
T_BOUNDS = (0.05, 20.0)
CALIBRATION_FILE = "calibration.json"
#: validation rows below which no temperature is fitted (T = 1)
MIN_ROWS = 100
#: weight, in rows, of the prior that shrinks log T towards 0 (T towards 1)
PRIOR_ROWS = 10.0
#: folds of the check that a fitted T lowers the NLL of rows it was not fitted on
CHECK_FOLDS = 5


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row softmax of ``logits / temperature`` in float64 (stable for large logits)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise GalcatError(f"probabilities {probs.shape} and labels {labels.shape} do not match")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise GalcatError(f"labels must be class codes 0..{probs.shape[1] - 1}")
    return probs, labels


def negative_log_likelihood(probs, labels) -> float:
    """Mean -log p(true class), probabilities clipped at 1e-12."""
    probs, labels = _check(probs, labels)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def brier_score(probs, labels) -> float:
    """Multi-class Brier score (Brier 1950): mean over rows of sum_c (p_c - [y = c])^2, in [0, 2]."""
    probs, labels = _check(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def reliability_bins(probs, labels, n_bins: int = N_BINS) -> dict:
    """Per confidence bin (0, 1/n], (1/n, 2/n], ...: row count, mean confidence, accuracy.

    Confidence is the top probability; accuracy the fraction of those rows whose top class is
    the true one. Empty bins report 0 rows and NaN confidence/accuracy.
    """
    probs, labels = _check(probs, labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        acc = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins) / count
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
        "count": count.tolist(),
        "confidence": conf.tolist(),
        "accuracy": acc.tolist(),
    }


def expected_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """ECE = sum over bins of (rows in bin / rows) * |accuracy - mean confidence| (equal-width bins)."""
    bins = reliability_bins(probs, labels, n_bins)
    count = np.asarray(bins["count"], dtype=np.float64)
    if count.sum() == 0:
        return float("nan")
    gap = np.abs(np.nan_to_num(np.asarray(bins["accuracy"]) - np.asarray(bins["confidence"])))
    return float((count * gap).sum() / count.sum())


def calibration_measures(probs, labels, n_bins: int = N_BINS) -> dict:
    """ECE, Brier, NLL, accuracy and mean confidence of one set of probabilities."""
    probs, labels = _check(probs, labels)
    return {
        "ece": expected_calibration_error(probs, labels, n_bins),
        "brier": brier_score(probs, labels),
        "nll": negative_log_likelihood(probs, labels),
        "accuracy": float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan"),
        "mean_confidence": float(probs.max(axis=1).mean()) if len(labels) else float("nan"),
        "n": int(len(labels)),
    }


def fit_temperature(logits, labels, prior_rows: float = 0.0) -> float:
    """The T minimising the NLL of ``softmax(logits / T)`` (LBFGS over log T, clipped to T_BOUNDS).

    ``prior_rows`` > 0 adds ``prior_rows * (log T)^2 / n`` to the mean NLL: a MAP fit that a few
    rows cannot pull far from T = 1.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    _check(logits, labels)
    if len(labels) == 0:
        raise GalcatError("temperature scaling needs at least one labelled validation row")
    z = torch.as_tensor(logits)
    y = torch.as_tensor(labels)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss = loss + float(prior_rows) / len(labels) * log_t.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    t = float(log_t.detach().exp())
    if not np.isfinite(t):
        t = T_BOUNDS[1]
    return float(np.clip(t, *T_BOUNDS))


@dataclass
class Calibration:
    """One fold's temperature and what it did on the rows it was fitted on."""

    temperature: float
    n_rows: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    model_hash: str = ""  # galcat.model.checkpoint.model_hash of the weights it was fitted for
    fitted_on: str = "the fold's validation split"
    note: str = ""  # why T was left at 1, when it was


def held_out_gain(logits, labels, folds: int = CHECK_FOLDS, seed: int = 0) -> float:
    """NLL with T = 1 minus NLL with T fitted on the other folds, per row (> 0: T helps unseen rows)."""
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    parts = np.array_split(np.random.default_rng(seed).permutation(len(labels)), folds)
    plain, scaled = 0.0, 0.0
    for part in parts:
        rest = np.setdiff1d(np.arange(len(labels)), part)
        t = fit_temperature(logits[rest], labels[rest], PRIOR_ROWS)
        plain += negative_log_likelihood(softmax(logits[part]), labels[part]) * len(part)
        scaled += negative_log_likelihood(softmax(logits[part], t), labels[part]) * len(part)
    return (plain - scaled) / len(labels)


def calibrate(logits, labels, model_hash: str = "") -> Calibration:
    """Fit T on (logits, labels) where they can support it, and record NLL/ECE before and after."""
    n = len(labels)
    note = ""
    if n < MIN_ROWS:
        note = f"{n} validation rows are too few to fit a temperature (at least {MIN_ROWS}); T = 1"
    elif held_out_gain(logits, labels) <= 0:
        note = (
            f"a temperature fitted on {CHECK_FOLDS - 1}/{CHECK_FOLDS} of the validation rows did not "
            "lower the NLL of the rest; T = 1"
        )
    t = 1.0 if note else fit_temperature(logits, labels, PRIOR_ROWS)
    before, after = softmax(logits), softmax(logits, t)
    return Calibration(
        temperature=t,
        n_rows=int(len(labels)),
        nll_before=negative_log_likelihood(before, labels),
        nll_after=negative_log_likelihood(after, labels),
        ece_before=expected_calibration_error(before, labels),
        ece_after=expected_calibration_error(after, labels),
        model_hash=model_hash,
        note=note,
    )


def save_calibration(path, calibration: Calibration) -> Path:
    return save_config(calibration, path)


def load_calibration(path, model_hash: str | None = None) -> Calibration | None:
    """The saved calibration, or None when absent or fitted for other weights."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        calibration = load_config(Calibration, path)
    except GalcatError as exc:
        raise GalcatError(f"{exc}; delete it to refit the calibration") from None
    if model_hash and calibration.model_hash != model_hash:
        return None
    if not T_BOUNDS[0] <= calibration.temperature <= T_BOUNDS[1]:
        raise GalcatError(f"{path}: temperature {calibration.temperature} outside {T_BOUNDS}")
    return calibration
