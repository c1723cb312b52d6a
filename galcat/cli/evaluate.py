"""`galcat evaluate`: a trained run on a labelled store -> metrics.json, report.md, figures."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors, predict_turns_option
from galcat.cli.options import calibrate_option, option
from galcat.evaluate.api import EvaluateConfig


@app.command("evaluate")
@handle_errors
def evaluate_command(
    model: Path = typer.Option(
        ..., "--model", help="Run directory from `galcat train` (or a checkpoint .pt)."
    ),
    query: Path = typer.Option(..., "--query", help="Labelled store to evaluate on (e.g. RSA)."),
    reference: Path | None = typer.Option(
        None, "--reference", help="Reference store for retrieval (default: each fold's training rows)."
    ),
    scheme: str | None = typer.Option(
        None, "--scheme", help="Query label scheme (default: the model's; hubble11 collapses to hubble9)."
    ),
    folds: str = option(
        EvaluateConfig,
        "folds",
        "--folds",
        "--fold",
        help="'all' (their ensemble) or fold numbers, e.g. --fold 0 or --folds 0,2.",
    ),
    calibrate: bool = calibrate_option(EvaluateConfig),
    bootstrap: int = option(EvaluateConfig, "bootstrap", help="Bootstrap resamples for 95% intervals."),
    out: Path = option(EvaluateConfig, "out", help="Output folder for the report."),
    raw: bool = typer.Option(False, "--raw", help="Retrieve on raw embeddings (default: L2-normalised)."),
    batch_size: int = option(EvaluateConfig, "batch_size", "--batch-size"),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, mps (default: auto)."),
    predict_turns: int | None = predict_turns_option(),
):
    """Accuracy, unweighted F1, P@1, MAP@R (and the paper's MAP@10), confusion matrix and ROC.

    \b
    Example: galcat evaluate --model runs/gz1-dml --query stores/gz1_64.h5 \\
      --out reports/gz1-dml
    """
    from galcat.evaluate.api import evaluate
    from galcat.evaluate.report import SUMMARY_COLUMNS, fold_scalars, retrieval_coverage
    from galcat.metrics.summary import metric_text, summary_text

    cfg = EvaluateConfig(
        model=str(model),
        query=str(query),
        reference=str(reference) if reference else None,
        scheme=scheme,
        folds=folds,
        bootstrap=bootstrap,
        calibrate=calibrate,
        out=str(out),
        normalize=not raw,
        batch_size=batch_size,
        device=device,
        predict_turns=predict_turns,
    )
    metrics = evaluate(cfg)
    summary, combined = metrics["summary"], metrics["combined"]
    several = len(metrics["folds"]) > 1
    numbers = ", ".join(str(f) for f in combined["folds"])
    print(f"{combined['n_query']} query galaxies; {len(combined['folds'])} fold(s) used, numbered {numbers}")
    for key, title in SUMMARY_COLUMNS:
        if key in summary:
            print(f"{title:36s} {summary_text(summary, key)}" + (" over folds" if several else ""))
    coverage = retrieval_coverage(metrics.get("folds", []))
    if coverage:
        print(coverage)
    if several:
        scalars = fold_scalars(combined)
        text = ", ".join(
            f"{title} {metric_text(key, scalars[key])}"
            for key, title in SUMMARY_COLUMNS[:4]
            if key in scalars
        )
        print(f"{combined['kind']} of {len(combined['folds'])} folds: {text}")
    calibration = combined.get("calibration")
    if calibration:
        before, after = calibration["before"], calibration["after"]
        print(
            f"ECE ({calibration['n_bins']} bins) {before['ece']:.4f} -> {after['ece']:.4f}, "
            f"Brier {before['brier']:.4f} -> {after['brier']:.4f} (before -> after temperature scaling)"
        )
    print(f"report: {out / 'report.md'} (with the figures inline: {out / 'report.html'})")
