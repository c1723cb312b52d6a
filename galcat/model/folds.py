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
            raise GalcatError(
                f"--folds {n_folds}: the rarest class has only {smallest} labelled row(s); "
                "use fewer folds or drop that class"
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
