"""`galcat demo`: the offline main job (synthetic store -> train -> evaluate -> embedded catalogue)."""

from __future__ import annotations

import json

import typer

from galcat.cli.app import app, handle_errors


@app.command("demo")
@handle_errors
def demo(
    out: str = typer.Option("demo", "--out", help="Output folder (stores/, runs/, reports/, catalogue)."),
    n_train_per_class: int = typer.Option(60, help="Synthetic training galaxies per Hubble class."),
    n_query_per_class: int = typer.Option(20, help="Synthetic unseen galaxies per class."),
    image_size: int = typer.Option(48, help="Pixels per side of the synthetic stores."),
    ce_epochs: int = typer.Option(4, help="Epochs of the label-smoothing CE stage."),
    dml_epochs: int = typer.Option(2, help="Epochs of the deep-metric-learning stage."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier demo in --out."),
):
    """Run the whole pipeline offline on synthetic galaxies (a few minutes on 2 CPU cores).

    Example: galcat demo --out demo
    """
    from galcat.demo import DemoConfig, run_demo

    summary = run_demo(
        DemoConfig(
            out=out, n_train_per_class=n_train_per_class, n_query_per_class=n_query_per_class,
            image_size=image_size, ce_epochs=ce_epochs, dml_epochs=dml_epochs, device=device,
            overwrite=overwrite,
        )
    )  # fmt: skip
    print(json.dumps(summary["metrics_on_unseen"], indent=2))
    print(f"catalogue: {summary['catalogue']}  ({len(summary['catalogue_columns'])} columns)")
    print(f"total time: {summary['timings_s']['total_s']} s")
    print(f"open this first, in a browser: {summary['explorer']}")
