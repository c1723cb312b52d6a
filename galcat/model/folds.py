"""Cross-validation splits: stratified k-fold, or one stratified train/val split.

Splits are made over store rows with a usable label only (code -1 = unlabelled is left out),
seeded, and returned as sorted row indices so the loader reads contiguous slices.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from galcat.errors import GalcatError


def make_folds(
    rows: np.ndarray,
    labels: np.ndarray | None,
    n_folds: int = 5,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train_rows, val_rows), ...]``; stratified on ``labels`` (aligned with ``rows``) if given."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) < 2:
        raise GalcatError(f"only {len(rows)} usable rows in the store; need at least 2 to split")
    if labels is not None:
        labels = np.asarray(labels)
        counts = np.bincount(labels)
        smallest = counts[counts > 0].min()
        if smallest < max(n_folds, 2):
            fix = "drop that class or label more rows"
            fix = f"use fewer folds or {fix}" if n_folds > 2 else fix
            raise GalcatError(
                f"--folds {n_folds}: the rarest class has only {smallest} labelled row(s), "
                f"and each fold needs {max(n_folds, 2)}; {fix}"
            )
    if n_folds == 1:
        if labels is not None:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
            parts = splitter.split(rows, labels)
        else:
            parts = ShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed).split(rows)
    elif labels is not None:
        parts = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows, labels)
    else:
        parts = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows)
    try:
        return [(np.sort(rows[tr]), np.sort(rows[va])) for tr, va in parts]
    except ValueError as exc:  # e.g. a validation set smaller than the number of classes
        msg = f"cannot split {len(rows)} rows (--folds {n_folds}, --val-fraction {val_fraction}): {exc}"
        raise GalcatError(msg) from None


def label_subset(
    rows: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    per_class: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A seeded, stratified subset of training ``rows`` (``labels`` aligned with them), sorted.

    ``per_class``: exactly that many rows of every class (a class with fewer is an error, so a
    label-efficiency curve never mixes budgets silently). ``fraction``: that share of each
    class, at least one row. Only the training split is cut; validation rows stay as they are.
    """
    rows, labels = np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if per_class is None and fraction is None:
        return rows
    rng = np.random.default_rng([seed, 22])
    keep = []
    for code in np.unique(labels):
        members = rows[labels == code]
        if per_class is not None:
            if len(members) < per_class:
                name = class_names[code] if code < len(class_names) else str(code)
                raise GalcatError(
                    f"--labels-per-class {per_class}: class {name!r} has only {len(members)} "
                    "training row(s); lower N or use --label-fraction"
                )
            n = per_class
        else:
            n = max(1, int(round(fraction * len(members))))
        keep.append(rng.choice(np.sort(members), size=n, replace=False))
    return np.sort(np.concatenate(keep))
