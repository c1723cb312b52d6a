"""`galcat explore`: a classified catalogue as a static browser site, or served on localhost."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.explore.serve import SearchConfig
from galcat.explore.site import ExploreConfig


@app.command("explore")
@handle_errors
def explore(
    catalogue: Path = typer.Argument(..., help="Output of `galcat embed` or `galcat classify` (any format)."),
    store: Path = typer.Option(..., "--store", help="HDF5 store holding the catalogue's images (by objid)."),
    out: Path | None = typer.Option(None, "--out", help="Site folder to write (index.html inside)."),
    reference: Path | None = typer.Option(
        None, "--reference", help="Store of the reference galaxies named by knn_ids (their thumbnails)."
    ),
    report: Path | None = typer.Option(None, "--report", help="A `galcat evaluate --out` folder to include."),
    map_method: str = option(ExploreConfig, "map", help="Embedding map: pca or tsne."),
    title: str | None = typer.Option(None, "--title", help="Page title (default: the catalogue's name)."),
    thumb_size: int = option(ExploreConfig, "thumb_size", help="Pixels of a table thumbnail."),
    image_size: int = option(
        ExploreConfig, "image_size", help="Pixels of the panel image (at most the store's)."
    ),
    overwrite: bool = option(ExploreConfig, "overwrite", help="Replace a site already in --out."),
    serve: bool = typer.Option(False, "--serve", help="Serve the site on localhost with similarity search."),
    port: int = option(SearchConfig, "port", help="Port for --serve (0: any free port)."),
    host: str = option(SearchConfig, "host", help="Address for --serve (default: localhost only)."),
    resolver: str | None = typer.Option(
        None, "--resolver", help="Names in --serve: openngc:PATH, simbad, sesame."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Run for image uploads in --serve (default: the catalogue's embed_model)."
    ),
):
    """Write a self-contained site (table, galaxy panel, embedding map, report); opens from file://.

    \b
    Example: galcat explore demo/synthetic_unseen_embedded.fits \\
      --store demo/stores/synthetic_unseen.h5 \\
      --reference demo/stores/synthetic_train.h5 \\
      --report demo/reports/dml-proxy-nca --out demo/explore
    """
    import tempfile

    from galcat.errors import GalcatError
    from galcat.explore.site import format_size, write_site
    from galcat.progress import progress_bar

    if out is None and not serve:
        raise GalcatError("--out is required (or --serve, which writes the site to a temporary folder)")
    temporary = tempfile.TemporaryDirectory(prefix="galcat-explore-") if out is None else None
    folder = Path(temporary.name) if temporary else out
    cfg = ExploreConfig(
        catalogue=str(catalogue), store=str(store), out=str(folder),
        reference=str(reference) if reference else None, report=str(report) if report else None,
        map=map_method, title=title, thumb_size=thumb_size, image_size=image_size, overwrite=overwrite,
    )  # fmt: skip
    with progress_bar() as bar:
        task = bar.add_task("site images", total=None)
        result = write_site(cfg, progress=lambda n: bar.advance(task, n))
    print(
        f"wrote {result.index} ({result.n_rows} galaxies, {result.n_images} images; "
        f"{format_size(result.size_bytes)} on disk, {result.seconds:.1f} s)"
    )
    for note in result.notes:
        print(f"note: {note}")
    if not serve:
        return
    from galcat.explore.serve import serve_site

    try:
        serve_site(
            SearchConfig(site=str(folder), catalogue=str(catalogue), store=str(store),
                         model=str(model) if model else None, host=host, port=port, resolver=resolver),
            announce=lambda url: print(f"serving {url} (Ctrl-C stops)", flush=True),
        )  # fmt: skip
    finally:
        if temporary:
            temporary.cleanup()
