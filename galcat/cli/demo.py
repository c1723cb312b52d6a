"""`galcat demo`: the offline main job (synthetic store -> train -> evaluate -> embedded catalogue)."""

from __future__ import annotations

import json

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.demo import DemoConfig


@app.command("demo")
@handle_errors
def demo(
    out: str = option(DemoConfig, "out", help="Output folder (stores/, runs/, reports/, catalogue)."),
    n_train_per_class: int = option(
        DemoConfig, "n_train_per_class", help="Synthetic training galaxies per Hubble class."
    ),
    n_query_per_class: int = option(
        DemoConfig, "n_query_per_class", help="Synthetic unseen galaxies per class."
    ),
    image_size: int = option(DemoConfig, "image_size", help="Pixels per side of the synthetic stores."),
    ce_epochs: int = option(DemoConfig, "ce_epochs", help="Epochs of the label-smoothing CE stage."),
    dml_epochs: int = option(DemoConfig, "dml_epochs", help="Epochs of the deep-metric-learning stage."),
    device: str = option(DemoConfig, "device", help="auto | cpu | cuda | mps"),
    overwrite: bool = option(DemoConfig, "overwrite", help="Replace an earlier demo in --out."),
):
    """Run the pipeline offline on synthetic galaxies: about a minute on 2 idle cores (docs/benchmarks.md).

    \b
    Example: galcat demo --out demo
    """
    from galcat.demo import run_demo

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
