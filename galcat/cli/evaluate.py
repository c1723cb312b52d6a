"""`galcat evaluate`: a trained run on a labelled store -> metrics.json, report.md, figures."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors


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
    folds: str = typer.Option("all", "--folds", help="'all' or fold numbers, e.g. 0 or 0,2."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for 95% intervals."),
    out: Path = typer.Option(Path("reports/evaluate"), "--out", help="Output folder for the report."),
    raw: bool = typer.Option(False, "--raw", help="Retrieve on raw embeddings (default: L2-normalised)."),
    batch_size: int = typer.Option(128, "--batch-size", min=1),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, mps (default: auto)."),
):
    """Accuracy, unweighted F1, P@1, MAP@R (and the paper's MAP@10), confusion matrix and ROC.

    Example: galcat evaluate --model runs/gz1-dml --query stores/gz1_64.h5 --out reports/gz1-dml
    """
    from galcat.evaluate.api import EvaluateConfig, evaluate
    from galcat.evaluate.report import SUMMARY_COLUMNS

    cfg = EvaluateConfig(
        model=str(model),
        query=str(query),
        reference=str(reference) if reference else None,
        scheme=scheme,
        folds=folds,
        bootstrap=bootstrap,
        out=str(out),
        normalize=not raw,
        batch_size=batch_size,
        device=device,
    )
    metrics = evaluate(cfg)
    summary = metrics["summary"]
    for key, title in SUMMARY_COLUMNS:
        if key in summary:
            print(f"{title:36s} {summary[key]['mean']:.4f} ± {summary[key]['std']:.4f}")
    print(f"report: {out / 'report.md'}")
