"""`galcat embed` (model outputs as catalogue columns) and `galcat neighbours` (image grid)."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors, predict_turns_option
from galcat.cli.options import calibrate_option, option
from galcat.outputs.embed import EmbedConfig
from galcat.outputs.neighbours import NeighboursConfig


@app.command("embed")
@handle_errors
def embed(
    model: Path = typer.Option(..., "--model", help="Training run directory (galcat train --out)."),
    store: Path = typer.Option(..., "--store", help="HDF5 store whose catalogue gets the columns."),
    out: Path = typer.Option(..., "--out", help="Output catalogue: .fits, .vot, .ecsv, .parquet or .h5."),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Labelled store for kNN columns (knn_<scheme>, knn_dist, nn_objid, anomaly).",
    ),
    fold: int | None = typer.Option(
        None, "--fold", help="Use only this fold's model (default: the mean over every fold of the run)."
    ),
    per_fold: bool = option(EmbedConfig, "per_fold", help="Also write each fold's prediction columns."),
    calibrate: bool = calibrate_option(EmbedConfig),
    k: int | None = option(
        EmbedConfig, "k", help="Nearest references of the kNN columns (default: a DML model's k, else 10)."
    ),
    overwrite: bool = option(EmbedConfig, "overwrite", help="Replace an existing output file."),
    samp: bool = option(
        EmbedConfig,
        "samp",
        help="Send the written table to TOPCAT via a running SAMP hub (no hub: the "
        "table is still written, then one warning line).",
    ),
    batch_size: int = option(EmbedConfig, "batch_size", help="Images per forward pass."),
    device: str | None = typer.Option(None, "--device", help="torch device (default: cuda if available)."),
    predict_turns: int | None = predict_turns_option(),
):
    """Embed a store with a trained model and write its catalogue with prediction columns.

    \b
    Example: galcat embed --model runs/gz1-dml --store stores/gz1_64.h5 \\
      --reference stores/gz1_64.h5 --out gz1_embedded.fits
    """
    from galcat.outputs.embed import embed_catalogue

    cfg = EmbedConfig(
        model=str(model), store=str(store), out=str(out), reference=str(reference) if reference else None,
        fold=fold, k=k, overwrite=overwrite, samp=samp, batch_size=batch_size, device=device,
        per_fold=per_fold, calibrate=calibrate, predict_turns=predict_turns,
    )  # fmt: skip
    table = embed_catalogue(cfg)
    if table is None:  # a torchrun rank other than 0; rank 0 writes the output
        return
    new = [
        c
        for c in table.colnames
        if c == "embedding" or c.startswith(("pred_", "p_", "knn_", "nn_", "anomaly"))
    ]
    print(f"wrote {out} ({len(table)} rows; columns {', '.join(new)})")


@app.command("neighbours")
@handle_errors
def neighbours(
    model: Path = typer.Option(..., "--model", help="Training run directory."),
    index: Path = typer.Option(
        ..., "--index", help="Reference store searched (its embedding index is cached)."
    ),
    query: str = typer.Option(..., "--query", help="objid, object name, or 'RA DEC' (deg or sexagesimal)."),
    out: Path = typer.Option(Path("neighbours.png"), "--out", help="PNG grid to write."),
    store: Path | None = typer.Option(None, "--store", help="Store holding the query (default: --index)."),
    fold: int = option(NeighboursConfig, "fold", help="Which fold's model to use."),
    k: int = option(NeighboursConfig, "k", help="Number of neighbours shown."),
    resolver: str | None = typer.Option(
        None,
        "--resolver",
        help="Name resolver for names not in the catalogue: simbad, sesame or openngc:PATH.",
    ),
    radius: float = option(
        NeighboursConfig, "radius_arcsec", "--radius", help="Match radius in arcsec for positions and names."
    ),
    device: str | None = typer.Option(None, "--device", help="torch device."),
    predict_turns: int | None = predict_turns_option(),
):
    """Show a query galaxy and its k nearest neighbours in embedding space (paper Figs 3-4).

    \b
    Example: galcat neighbours --model runs/gz1-dml --index \\
      stores/gz1_64.h5 --query 587722981742215240 --k 11 --out nn.png
    """
    from galcat.outputs.neighbours import find_neighbours

    cfg = NeighboursConfig(
        model=str(model), index=str(index), query=query, out=str(out), store=str(store) if store else None,
        fold=fold, k=k, resolver=resolver, radius_arcsec=radius, device=device,
        predict_turns=predict_turns,
    )  # fmt: skip
    result = find_neighbours(cfg)
    how = result.query.how + (
        f", {result.query.separation_arcsec:.1f} arcsec" if result.query.separation_arcsec is not None else ""
    )
    print(f"query {result.query.objid} ({result.query_label}; found by {how})")
    for rank, (oid, label, dist) in enumerate(
        zip(result.objids, result.labels, result.distances, strict=True), 1
    ):
        print(f"{rank:3d}  {oid:<24} {label:<6} {dist:.4f}")
    print(f"wrote {out}")
