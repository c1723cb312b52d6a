"""The k fold models of a run as one predictor: pooled, temperature-scaled probabilities with
their spread, and the mean embedding.

A k-fold run leaves k networks that each saw a different 80 % of the data. Pooling their
calibrated probabilities is a cheap deep ensemble (Lakshminarayanan et al. 2017), more accurate
than one fold, and the disagreement between folds (the per-class standard deviation, the fraction
of folds that agree with the ensemble) flags the galaxies whose prediction should not be trusted.

The pool is the normalised geometric mean of the folds' probabilities (log-linear pooling: the
softmax of the mean temperature-scaled logits). Why not the arithmetic mean: a linear pool of
calibrated forecasts is under-confident whenever they disagree (Ranjan & Gneiting 2010, "Combining
probability forecasts", JRSS B 72), and there are no rows left out of every fold on which to
recalibrate the pool (docs/benchmarks.md, "5-fold calibration", compares the two pools on real
galaxies). :class:`galcat.model.predictor.Predictor` pools with these functions; one fold is the
k = 1 case of the same code.
"""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError
from galcat.metrics.knn import l2_normalize


def mean_embedding(fold_embeddings: np.ndarray) -> np.ndarray:
    """(k, n, D) -> (n, D): each fold's embedding L2-normalised, averaged, then L2-normalised."""
    return l2_normalize(l2_normalize(fold_embeddings).mean(axis=0))


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """-sum p log p / log C per row: 0 when one class has all the probability, 1 when uniform."""
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = probs.shape[1]
    if n_classes < 2:
        return np.zeros(len(probs), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return np.clip(-terms.sum(axis=1) / np.log(n_classes), 0.0, 1.0).astype(np.float32)


def pool_probabilities(fold_probs: np.ndarray) -> np.ndarray:
    """(k, n, C) -> (n, C): normalised geometric mean over the fold axis (one fold: itself).

    ``exp(mean_k log p_k)`` renormalised per row, which equals the softmax of the mean logits.
    Probabilities are floored at the smallest float32 so a fold's exact zero does not veto a class.
    """
    p = np.asarray(fold_probs, dtype=np.float64)
    log_p = np.log(np.clip(p, np.finfo(np.float32).tiny, None)).mean(axis=0)
    log_p -= log_p.max(axis=-1, keepdims=True)
    pooled = np.exp(log_p)
    return pooled / pooled.sum(axis=-1, keepdims=True)


def combine(fold_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(k, n, C) per-fold probabilities -> pool (n, C), std (n, C), normalised entropy of the
    pool (n,), and the fraction of folds whose argmax equals the pool's argmax (n,)."""
    p = np.asarray(fold_probs, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] < 1:
        raise GalcatError(f"fold probabilities must be (folds, rows, classes), got {p.shape}")
    mean = pool_probabilities(p)
    std = p.std(axis=0)
    winner = mean.argmax(axis=1)
    agreement = (p.argmax(axis=2) == winner[None, :]).mean(axis=0)
    return (
        mean.astype(np.float32),
        std.astype(np.float32),
        normalised_entropy(mean),
        agreement.astype(np.float32),
    )


def select_folds(run, folds=None) -> list[tuple[int, object]]:
    """``[(number, FoldModel)]`` of a run's folds.

    ``folds``: None or 'all' (every fold), a fold number, or numbers such as '0,2' (the CLI's
    ``--fold`` / ``--folds``); a fold the run does not have is an error that names the run.
    """
    numbered = [(getattr(fold, "number", i), fold) for i, fold in enumerate(run.folds)]
    incomplete = dict(getattr(run, "incomplete", None) or {})
    n_folds = len(numbered) + len(incomplete)
    if folds is None or (isinstance(folds, str) and folds.strip().lower() in ("all", "")):
        if incomplete:
            first = min(incomplete)
            finished = ",".join(str(n) for n, _ in numbered)
            raise GalcatError(
                f"{run.path}: {incomplete[first]}; rerun the same `galcat train` to finish the run, "
                f"or use the finished fold(s) alone with --fold {finished}"
            )
        return numbered
    try:
        wanted = [int(folds)] if isinstance(folds, int) else [int(part) for part in str(folds).split(",")]
    except ValueError:
        raise GalcatError(f"--folds {folds!r}: use 'all' or fold numbers such as '0' or '0,2'") from None
    if len(set(wanted)) < len(wanted):  # one fold twice would weigh double in the ensemble
        raise GalcatError(f"--folds {folds!r}: a fold is named twice; name each fold once, e.g. '0,1'")
    missing = [w for w in wanted if not 0 <= w < n_folds]
    if missing:
        names = ", ".join(map(str, missing))
        raise GalcatError(
            f"{run.path}: --fold {names} does not exist (no fold {names}; the run has "
            f"{n_folds} fold(s), 0..{n_folds - 1})"
        )
    for w in wanted:
        if w in incomplete:
            raise GalcatError(f"{run.path}: --fold {w}: {incomplete[w]}")
    by_number = dict(numbered)
    if incomplete:
        from galcat.progress import console

        console.print(
            f"[yellow]{run.path} is an unfinished run ({'; '.join(incomplete.values())}): "
            f"using fold(s) {', '.join(map(str, wanted))} as --fold asked[/yellow]",
            soft_wrap=True,  # one line, however long
        )
    return [(w, by_number[w]) for w in wanted]
