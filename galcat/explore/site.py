"""``galcat explore``: a classified catalogue and its store(s) -> a static site of plain files.

The page (``index.html``, ``assets/explore.js`` and ``assets/explore.css`` from this package)
reads its data from ``data/galaxies.js``, a script that sets one global, because browsers refuse
``fetch()`` from ``file://``. Images go into JPEG sprite sheets (``img/``), written once.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_write
from galcat.errors import GalcatError, where
from galcat.explore.data import (
    embedding_map,
    export_columns,
    neighbour_lists,
    page_rows,
    rows_by_id,
    standard_view,
    store_rows,
)
from galcat.explore.sprites import SheetSet, write_sheets
from galcat.outputs.columns import masked_to_str

#: what the site consists of; only these are replaced by ``--overwrite``
SITE_ENTRIES = ("index.html", "assets", "data", "img", "report")
ASSETS = ("explore.js", "explore.css")


@dataclass
class ExploreConfig:
    """``galcat explore``: catalogue (+ store, reference store, evaluate report) -> site folder."""

    catalogue: str
    store: str
    out: str
    reference: str | None = None
    report: str | None = None
    map: str = "pca"  # pca | tsne
    thumb_size: int = 48
    image_size: int = 96
    title: str | None = None
    overwrite: bool = False


@dataclass
class SiteResult:
    out: Path
    n_rows: int
    n_images: int
    size_bytes: int
    seconds: float
    notes: list[str]

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def _neighbour_images(out: Path, cfg: ExploreConfig, neighbours: dict, reference, thumb, found) -> SheetSet:
    """Sprite cells of every ``knn_ids`` galaxy (``neighbours["cells"]``, -1 where the reference
    lacks it). ``thumb`` is the table's sheet set when the reference is the catalogue's own store
    (its cells are reused; ``found`` are the store rows of those cells), else None: new sheets."""
    wanted = sorted({i for ids in neighbours["ids"] for i in ids})
    ref_rows = rows_by_id(masked_to_str(reference.catalogue["objid"]), wanted)
    if thumb is not None:
        cell_of_row = {int(r): c for c, r in enumerate(found)}
        cells = [cell_of_row.get(int(r), -1) for r in ref_rows]
        sheet = thumb
    else:
        present = ref_rows >= 0
        sheet = SheetSet("img/ref-", min(cfg.thumb_size, int(reference.image_shape[0])))
        write_sheets(out, [sheet], reference, ref_rows[present])
        cells = np.full(len(wanted), -1, dtype=np.int64)
        cells[present] = np.arange(int(present.sum()))
        cells = cells.tolist()
    cell_of = dict(zip(wanted, cells, strict=True))
    neighbours["cells"] = [[cell_of.get(i, -1) for i in ids] for ids in neighbours["ids"]]
    return sheet


def _prepare_out(cfg: ExploreConfig) -> Path:
    from galcat.paths import check_writable, refuse_overwriting_inputs

    out = Path(cfg.out)
    inputs = {"CATALOGUE": cfg.catalogue, "--store": cfg.store, "--reference": cfg.reference}
    refuse_overwriting_inputs({"--out": out, "--out (index.html)": out / "index.html"}, inputs)
    check_writable(out)
    if out.exists() and not out.is_dir():
        raise GalcatError(f"{out}: exists and is not a folder")
    present = [name for name in SITE_ENTRIES if (out / name).exists()]
    if present and not cfg.overwrite:
        raise GalcatError(f"{out}: already holds a site ({present[0]}); pass --overwrite to replace it")
    for name in present:
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for name in ("assets", "data", "img"):
        (out / name).mkdir(parents=True, exist_ok=True)
    return out


def _open(path, option: str):
    from galcat.store import open_store

    if not Path(path).is_file():
        raise GalcatError(f"{where(path)}{option} store not found")
    return open_store(path)


def _check(cfg: ExploreConfig) -> None:
    from galcat.ranges import check_numbers

    check_numbers(
        cfg,
        {
            "thumb_size": {"low": 8, "high": 256, "integer": True, "option": "--thumb-size"},
            "image_size": {"low": 16, "high": 512, "integer": True, "option": "--image-size"},
        },
    )
    if cfg.map not in ("pca", "tsne"):
        raise GalcatError(f"--map {cfg.map!r}: use pca or tsne")
    if not Path(cfg.catalogue).is_file():
        raise GalcatError(f"{where(cfg.catalogue)}catalogue not found")
    if cfg.report and not Path(cfg.report).is_dir():
        raise GalcatError(f"{where(cfg.report)}--report folder not found")


def write_site(cfg: ExploreConfig, progress=None) -> SiteResult:
    """Write the explorer of ``cfg.catalogue`` into ``cfg.out``; returns where, how big, how long."""
    from galcat.tables import read_table

    start = time.perf_counter()
    _check(cfg)
    original = read_table(cfg.catalogue)
    if len(original) == 0:
        raise GalcatError(f"{where(cfg.catalogue)}the catalogue has no rows")
    store = _open(cfg.store, "--store")
    table = standard_view(original, store.catalogue, cfg.catalogue)
    page = page_rows(table, cfg.catalogue)
    reference = _open(cfg.reference, "--reference") if cfg.reference else None
    out = _prepare_out(cfg)
    notes: list[str] = []
    rows = store_rows(table, store.catalogue)
    missing = int((rows < 0).sum())
    if missing:
        notes.append(f"{missing} of {len(rows)} galaxies have no image in the store (shown as a placeholder)")
    side = int(store.image_shape[0])
    thumb = SheetSet("img/thumb-", min(cfg.thumb_size, side))
    large = SheetSet("img/large-", min(cfg.image_size, side))
    sets = [thumb] if large.size == thumb.size else [thumb, large]
    found = rows[rows >= 0]
    write_sheets(out, sets, store, found, progress)
    cells = np.full(len(rows), -1, dtype=np.int64)
    cells[rows >= 0] = np.arange(len(found))
    page["rows"]["cell"] = cells.tolist()
    neighbours = neighbour_lists(table)
    same_store = reference is not None and reference.fingerprint == store.fingerprint
    ref_sheet = None
    if neighbours is None:
        notes.append(
            "the catalogue has no knn_ids column (run `galcat embed` with --reference): no neighbours"
        )
    elif reference is None:
        notes.append("no --reference store given: neighbours are listed without their images")
    else:
        ref_sheet = _neighbour_images(out, cfg, neighbours, reference, thumb if same_store else None, found)
    columns, values = export_columns(original)
    data = {
        "meta": {
            "title": cfg.title or f"galcat explore: {Path(cfg.catalogue).name}",
            "catalogue": str(cfg.catalogue),
            "store": str(cfg.store),
            "reference": str(cfg.reference or ""),
            "n": len(table),
            "scheme": page["scheme"],
            "pred_column": page["pred_column"],
            "true_column": page["true_column"],
            "classes": page["classes"],
            "labels": page["labels"],
            "has_std": page["has_std"],
            "has_entropy": page["has_entropy"],
            "has_agreement": page["has_agreement"],
            "model": str(table.meta.get("embed_model", "")),
            "reference_is_store": same_store,
            "notes": notes,
        },
        "rows": page["rows"],
        "knn": neighbours,
        "map": embedding_map(table, cfg.map),
        "sheets": {
            "thumb": thumb.as_dict(),
            "large": (large if len(sets) > 1 else thumb).as_dict(),
            "ref": ref_sheet.as_dict() if ref_sheet else None,
        },  # fmt: skip
        "export": {"columns": columns, "values": values},
        "report": None,
    }
    if cfg.report:
        from galcat.explore.report import read_report

        data["report"] = read_report(cfg.report, out)
    _write_page(out, data)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return SiteResult(out, len(table), len(found), size, time.perf_counter() - start, notes)


def script_json(value) -> str:
    """JSON that is safe inside a script: no ``</script>``, no U+2028/9 line breaks in strings."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _write_page(out: Path, data: dict) -> None:
    package = resources.files("galcat.explore") / "assets"
    for name in ASSETS:
        atomic_write(out / "assets" / name, (package / name).read_bytes(), fsync=False)
    script = f"window.GALCAT_DATA = {script_json(data)};\nwindow.GALCAT_DATA_AT = performance.now();\n"
    atomic_write(out / "data" / "galaxies.js", script, fsync=False)
    html = (package / "index.html").read_text(encoding="utf-8")
    import html as html_module

    atomic_write(out / "index.html", html.replace("{{TITLE}}", html_module.escape(data["meta"]["title"])))


def format_size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"
