"""Accuracy and macro F1 of the k-NN vote for several k, on trained one-fold DML runs.

Each run's fold-0 model embeds its own validation galaxies once (as ``galcat evaluate`` does,
with the run's ``--predict-turns``); the distance-weighted vote against the training reference
saved with the run is then scored for every k, so the k values differ in nothing but k. This
is how the default ``--knn-k`` was chosen: the mean over several runs, not one split's best.

Usage::

    python benchmarks/knn_vote_k.py RUN_DIR [RUN_DIR ...] [--k 5 10 20 30]

Prints a row per run and the mean and lowest over the runs; the last line is JSON
``{"k": {"accuracy": [...], "macro_f1": [...]}}`` (one value per run, in the order given).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.metrics import f1_score

from galcat.model.data import open_training_data
from galcat.model.run import load_run
from galcat.model.vote import knn_vote_logits


def score_run(run_dir: str, ks: list[int]) -> dict[int, tuple[float, float]]:
    """{k: (accuracy, macro F1)} of the k-NN vote on the run's fold-0 validation galaxies."""
    run = load_run(run_dir)
    fold = run.folds[0]
    model = fold.model
    if getattr(model, "predictor", None) != "knn" or not len(model.reference_labels):
        raise SystemExit(f"{run_dir}: not a DML run that predicts by the k-NN vote")
    store = run.config.store
    data = open_training_data(store, "ls-ce", None)
    truth = data.labels[np.searchsorted(data.rows, fold.val_indices)]
    predictor = run.predictor(folds=0, calibrate=False, batch_size=256)
    embeddings = predictor.predict_store(store, fold.val_indices).fold_embeddings[0]
    reference = model.reference_embeddings.cpu().numpy()
    labels = model.reference_labels.cpu().numpy()
    scores = {}
    for k in ks:
        guess = knn_vote_logits(embeddings, reference, labels, len(fold.class_names), k).argmax(1)
        scores[k] = (float((guess == truth).mean()), float(f1_score(truth, guess, average="macro")))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="One-fold DML run directories.")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20, 30])
    args = parser.parse_args()
    table = {}
    for run_dir in args.runs:
        table[run_dir] = score_run(run_dir, args.k)
        cells = "  ".join(f"k={k}: {a:.2%} / {f:.3f}" for k, (a, f) in table[run_dir].items())
        print(f"{run_dir}: {cells}", flush=True)
    result = {}
    for k in args.k:
        acc = [table[r][k][0] for r in args.runs]
        f1 = [table[r][k][1] for r in args.runs]
        print(
            f"k={k:3d}: accuracy mean {np.mean(acc):.2%} lowest {min(acc):.2%}; "
            f"macro F1 mean {np.mean(f1):.3f} lowest {min(f1):.3f}"
        )
        result[str(k)] = {"accuracy": acc, "macro_f1": f1}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
