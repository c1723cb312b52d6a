"""Nearest-neighbour image grids (the paper's Figures 3-4): a query galaxy and its k neighbours.

The query is found by objid, by name (catalogue ids first, then a name resolver) or by
"RA DEC" (the nearest catalogue row within a radius); its neighbours come from the saved
embedding index of the reference store (galcat.outputs.index).
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcat.atomic import atomic_path
from galcat.errors import GalcatError
from galcat.outputs.columns import masked_to_str


@dataclass
class QueryMatch:
    """Which catalogue row a query string resolved to, and how."""

    row: int
    objid: str
    how: str  # "objid", "name", "resolver", "position"
    separation_arcsec: float | None = None
    given: str = ""  # the query as the user typed it


def parse_position(text: str) -> SkyCoord | None:
    """'RA DEC' in degrees ('150.1 2.2') or sexagesimal ('10h00m24s +02d12m'); None if not a position."""
    parts = str(text).replace(",", " ").split()
    if len(parts) < 2:
        return None
    try:
        ra, dec = float(parts[0]), float(parts[1])
        if len(parts) != 2 or not (0 <= ra <= 360 and -90 <= dec <= 90):
            raise GalcatError(f"query {text!r}: RA must be in [0, 360] and Dec in [-90, 90] degrees")
        return SkyCoord(ra * u.deg, dec * u.deg)
    except ValueError:
        pass
    try:
        return SkyCoord(" ".join(parts), unit=(u.hourangle, u.deg))
    except (ValueError, u.UnitsError):
        return None


def _normalise(name) -> str:
    from galcat.coords.names import normalise_name

    return normalise_name(name)


def nearest_row(catalogue, coord: SkyCoord, radius_arcsec: float, label: str) -> tuple[int, float]:
    """Row of the catalogue object nearest to ``coord``, which must lie within the radius."""
    ra = np.ma.filled(np.ma.asarray(catalogue["ra"], dtype=float), np.nan)
    dec = np.ma.filled(np.ma.asarray(catalogue["dec"], dtype=float), np.nan)
    known = np.isfinite(ra) & np.isfinite(dec)
    if not known.any():
        raise GalcatError(f"query {label!r}: the catalogue has no positions to match against")
    rows = np.flatnonzero(known)
    separations = coord.separation(SkyCoord(ra[rows] * u.deg, dec[rows] * u.deg)).arcsec
    best = int(np.argmin(separations))
    if separations[best] > radius_arcsec:
        raise GalcatError(
            f"query {label!r}: no catalogue object within {radius_arcsec:g} arcsec "
            f"(nearest is {masked_to_str(catalogue['objid'])[rows[best]]} at {separations[best]:.1f} arcsec)"
        )
    return int(rows[best]), float(separations[best])


def find_query(catalogue, query: str, resolver: str | None = None, radius_arcsec: float = 10.0) -> QueryMatch:
    """Resolve an objid, a name or an "RA DEC" position to a catalogue row."""
    text = str(query).strip()
    if not text:
        raise GalcatError("--query is empty; give an objid, a name or 'RA DEC'")
    objids = masked_to_str(catalogue["objid"])
    hits = np.flatnonzero(objids == text)
    if len(hits):
        return QueryMatch(int(hits[0]), text, "objid", given=text)
    wanted = _normalise(text)
    for column in [
        c for c in ("objid", "name", "Galaxy_ID", "PGCname", "full_pgc_name") if c in catalogue.colnames
    ]:
        names = np.array([_normalise(v) if v else "" for v in masked_to_str(catalogue[column])])
        hits = np.flatnonzero(names == wanted)
        if len(hits):
            return QueryMatch(int(hits[0]), str(objids[hits[0]]), "name", given=text)
    coord = parse_position(text)
    how = "position"
    if coord is None:
        if not resolver:
            raise GalcatError(
                f"query {text!r}: not an objid or name in the catalogue, and no --resolver given"
            )
        from galcat.coords import get_resolver

        result = get_resolver(resolver).resolve([text])
        if np.ma.is_masked(result["ra"][0]):
            raise GalcatError(f"query {text!r}: not in the catalogue and not resolved by {resolver!r}")
        coord = SkyCoord(float(result["ra"][0]) * u.deg, float(result["dec"][0]) * u.deg)
        how = "resolver"
    row, sep = nearest_row(catalogue, coord, radius_arcsec, text)
    return QueryMatch(row, str(objids[row]), how, sep, given=text)


def _labels(store, scheme, rows) -> list[str]:
    if not scheme or scheme not in store.schemes:
        return ["?"] * len(rows)
    names = [str(c) for c in store.class_names(scheme)]
    codes = store.label_codes(scheme)[np.asarray(rows)]
    return [names[c] if c >= 0 else "?" for c in codes]


def _read_rows(store, rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows)
    unique, inverse = np.unique(rows[order], return_inverse=True)
    images = store.read_images(unique)[inverse]
    out = np.empty_like(images)
    out[order] = images
    return out


@dataclass
class NeighbourResult:
    """The query and its neighbours, nearest first, as shown on the grid."""

    query: QueryMatch
    query_label: str
    rows: np.ndarray
    objids: list[str]
    labels: list[str]
    distances: np.ndarray


def neighbour_grid(
    query_row: int, query_embedding, index, ref_store, scheme, k: int, same_store: bool
) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Neighbour rows, objids, labels and distances of one query from the embedding index."""
    exclude = np.array([query_row]) if same_store else None
    distances, rows = index.search(np.atleast_2d(query_embedding), k, exclude_rows=exclude)
    rows, distances = rows[0], distances[0]
    objids = list(masked_to_str(ref_store.catalogue["objid"])[rows])
    return rows, objids, _labels(ref_store, scheme, rows), distances


def render_grid(query_image, query_title: str, images, titles, out, colours=None, ncols: int = 6) -> Path:
    """Save a PNG grid: the query first (outlined), then the neighbours with their titles."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = [query_image, *images]
    # a panel is about 2.3 inches wide: long ids and names are wrapped rather than clipped
    titles = ["\n".join(textwrap.fill(line, 26) for line in t.split("\n")) for t in [query_title, *titles]]
    colours = ["black", *(colours or ["black"] * len(images))]
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.75 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (image, title, colour) in enumerate(zip(panels, titles, colours, strict=True)):
        ax = axes.flat[i]
        ax.imshow(image, interpolation="nearest")
        ax.set_title(title, fontsize=9, color=colour)
        if i == 0:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("tab:blue")
                spine.set_linewidth(3)
    fig.tight_layout()
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return out


def save_neighbour_figure(query_store, result: NeighbourResult, ref_store, out) -> Path:
    """Render a :class:`NeighbourResult`: labels green if they match the query, red if not, grey unknown."""
    query_image = _read_rows(query_store, [result.query.row])[0]
    images = _read_rows(ref_store, result.rows)
    titles = [
        f"NN{i + 1} {oid}\n{lab}  d={d:.3f}"
        for i, (oid, lab, d) in enumerate(zip(result.objids, result.labels, result.distances, strict=True))
    ]
    colours = [
        "dimgray"
        if lab == "?" or result.query_label.startswith("unlabelled")
        else ("tab:green" if lab == result.query_label else "tab:red")
        for lab in result.labels
    ]
    given = "" if result.query.how == "objid" else f"{result.query.given}\n"
    query_title = f"query {given}{result.query.objid}\n{result.query_label}"
    return render_grid(query_image, query_title, images, titles, out, colours)


@dataclass
class NeighboursConfig:
    """``galcat neighbours``: one query galaxy, its k nearest neighbours in a reference store."""

    model: str
    index: str  # the reference store whose embedding index is searched
    query: str  # objid, name or "RA DEC"
    out: str | None = None
    store: str | None = None  # where the query is looked up (default: the reference store)
    fold: int = 0
    k: int = 11
    resolver: str | None = None
    radius_arcsec: float = 10.0
    batch_size: int = 128
    device: str | None = None
    predict_turns: int | None = None  # views an embedding averages (default: as the run was trained)


def find_neighbours(cfg: NeighboursConfig) -> NeighbourResult:
    """Look the query up, embed it (or reuse the index), search, and save the grid to ``cfg.out``."""
    from galcat.outputs.embed import load_fold, open_checked_store, reference_index
    from galcat.paths import check_writable, refuse_overwriting_inputs
    from galcat.ranges import bound, check_numbers

    check_numbers(
        cfg,
        {
            "k": bound("neighbours"),
            "fold": bound("fold"),
            "radius_arcsec": bound("radius_arcsec", option="--radius"),
            "batch_size": bound("batch_size"),
        },
    )
    if cfg.out:
        refuse_overwriting_inputs(
            {"--out": cfg.out}, {"--index": cfg.index, "--store": cfg.store, "--model": cfg.model}
        )
        check_writable(cfg.out, kind="file")
    predictor = load_fold(cfg.model, cfg.fold, cfg.predict_turns, cfg.batch_size, cfg.device)
    fold = predictor.fold_models[0]
    ref_store = open_checked_store(cfg.index, fold, need_labels=False)
    query_store = open_checked_store(cfg.store, fold, need_labels=False) if cfg.store else ref_store
    match = find_query(query_store.catalogue, cfg.query, cfg.resolver, cfg.radius_arcsec)
    index = reference_index(cfg.model, predictor, cfg.index, ref_store)
    same = query_store.fingerprint == ref_store.fingerprint
    if same:
        query_embedding = index.vectors_of([match.row])[0]
    else:
        query_embedding = predictor.predict_store(cfg.store, [match.row]).embeddings[0]
    scheme = getattr(fold, "scheme", None)
    rows, objids, labels, distances = neighbour_grid(
        match.row, query_embedding, index, ref_store, scheme, cfg.k, same
    )
    query_label = _labels(query_store, scheme, [match.row])[0]
    known = [lab for lab in labels if lab != "?"]
    if query_label == "?" and known:  # an unlabelled query: say what its neighbours are
        top, count = Counter(known).most_common(1)[0]
        query_label = f"unlabelled; {count}/{len(labels)} NN {top}"
    elif query_label == "?":
        query_label = "unlabelled"
    result = NeighbourResult(match, query_label, rows, objids, labels, distances)
    if cfg.out:
        save_neighbour_figure(query_store, result, ref_store, cfg.out)
    return result
