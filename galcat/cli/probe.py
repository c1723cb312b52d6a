"""`galcat probe`: a linear or MLP head on a run's frozen trunk, scored like `galcat evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.experiments.probe import ProbeConfig


@app.command(
    "probe",
)
@handle_errors
def probe_command(
    model: Path = typer.Option(..., "--model", help="Run directory (or checkpoint) whose trunk is frozen."),
    store: Path = typer.Option(..., "--store", help="Labelled store the head trains on."),
    test: Path = typer.Option(
        ..., "--test", help="Labelled store to evaluate on (same store: held-out split)."
    ),
    out: Path = option(ProbeConfig, "out", help="Output folder for the report."),
    head: str = option(ProbeConfig, "head", help="linear or mlp."),
    features: str = option(ProbeConfig, "features", help="trunk (pooled ResNet features) or embedding."),
    scheme: str | None = typer.Option(None, "--scheme", help="Label scheme of --store (default: the run's)."),
    fold: int = option(ProbeConfig, "fold", help="Which fold's network of the run."),
    epochs: int = option(ProbeConfig, "epochs", help="Head training epochs."),
    bootstrap: int = option(ProbeConfig, "bootstrap", help="Bootstrap resamples for 95% intervals."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, mps (default: auto)."),
):
    """Train a small head on frozen features (the paper's DeepGalaxy comparison) and report it.

    \b
    Example: galcat probe --model runs/gz1-lsce --store stores/gz1_64.h5 \\
      --test stores/gz1_64.h5 --out reports/gz1-probe
    """
    from galcat.evaluate.report import SUMMARY_COLUMNS, retrieval_coverage
    from galcat.experiments.probe import probe
    from galcat.metrics.summary import summary_text

    cfg = ProbeConfig(
        model=str(model), store=str(store), test=str(test), out=str(out), head=head, features=features,
        scheme=scheme, fold=fold, epochs=epochs, bootstrap=bootstrap, device=device,
    )  # fmt: skip
    metrics = probe(cfg)
    summary = metrics["summary"]
    for key, title in SUMMARY_COLUMNS:
        if key in summary:
            print(f"{title:36s} {summary_text(summary, key)}")
    coverage = retrieval_coverage(metrics.get("folds", []))
    if coverage:
        print(coverage)
    timing = metrics["probe"]
    print(
        f"features {timing['features_s']:.1f} s (CPU {timing['features_cpu_s']:.1f} s), "
        f"head {timing['head_s']:.1f} s (CPU {timing['head_cpu_s']:.1f} s); report: {out / 'report.md'}"
    )
