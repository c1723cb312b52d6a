"""``galcat classify``: an astronomer's target list in, the same list out with morphology columns.

One call resolves the targets (names through a resolver, positions in any notation), fetches
cutouts (disk cache, retries, resumable build) or reads local images matched by id, builds an
unlabelled store, runs the model exactly as ``galcat embed`` does (the fold ensemble with its
uncertainty columns where the run has folds, one model otherwise) with the k nearest labelled
reference galaxies, and writes the user's table back with every column and row in the user's
order plus galcat's columns. The output's schema never depends on what succeeded: a row that
could not be classified keeps masked predictions and a ``classify_status`` saying why, and a run
in which no row could be classified still writes the whole table. A galcat column whose name the
user's table already has (ignoring case, as FITS does) gets the suffix ``_galcat``
(:func:`galcat.outputs.join.free_name`). ``resolve_only`` stops after the positions.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from astropy.table import Column, Table

from galcat.errors import GalcatError, NetworkError
from galcat.net import HttpConfig
from galcat.outputs.classify_table import (
    OK,
    RESOLVED,
    ClassifyResult,
    model_template,
    output_meta,
    output_table,
    summarise,
)
from galcat.outputs.join import add_columns, scatter_column


@dataclass
class ClassifyConfig:
    """Everything one ``galcat classify`` run depends on (saved in the output's meta)."""

    model: str | None  #: training run directory (None only with ``resolve_only``)
    targets: str  #: the user's target list (CSV/TSV, FITS, VOTable, ECSV, Parquet)
    out: str | None = None  #: output table (.fits, .vot, .ecsv, .parquet); None: only return it
    images: str | None = None  #: local image folder (files named by id, any case); else ``service``
    image_pattern: str = "{key}"  #: file name of an id in ``images`` (extension optional), e.g. "{key}_tgt"
    service: str = "skyserver"  #: skyserver | hips2fits | legacysurvey
    resolver: str | None = None  #: openngc:PATH, simbad or sesame, for names without positions
    reference: str | None = None  #: labelled store for kNN columns (default: the run's training store)
    keep_store: str | None = None  #: keep the built store here (else a hidden one is removed)
    samp: bool = False
    frame: str = "icrs"
    equinox: str | None = None
    id_column: str | None = None
    name_column: str | None = None
    ra_column: str | None = None
    dec_column: str | None = None
    pixels: int | None = None  #: cutout side (service default when None)
    scale: float | None = None  #: arcsec per pixel (service default when None)
    release: int | None = None  #: SDSS data release (skyserver)
    base_url: str | None = None  #: service mirror
    crop: int = 224  #: centre crop for a 424 px image, the same fraction otherwise (as the training store)
    k: int | None = None  #: kNN neighbours (None: a DML model's vote k, else 10; galcat.outputs.embed)
    workers: int = 4
    batch_size: int = 128
    device: str | None = None
    predict_turns: int | None = None  # views a prediction averages (1 or 4); None: as trained
    overwrite: bool = False
    http: HttpConfig | None = None  #: retries and timeouts of the cutout downloads
    resolve_only: bool = False  #: positions and statuses only: no images, no model


def _check_out(cfg: ClassifyConfig) -> Path | None:
    """Every check that needs no file read: the outputs, the options, their ranges."""
    from galcat.tables import table_format

    if not cfg.resolve_only and not cfg.model:
        raise GalcatError("--model is needed to classify (or pass --resolve-only for positions alone)")
    out = Path(cfg.out) if cfg.out is not None else None
    if out is not None:
        if out.is_dir():
            raise GalcatError(f"{out}: is a folder; --out names the output table file")
        if table_format(out) == "hats":  # an unknown extension fails before any download too
            raise GalcatError(
                f"{out}: classify writes every row, also those without a position or prediction; "
                "use .fits, .vot, .ecsv or .parquet"
            )
        if out.suffix.lower() == ".csv" and not cfg.resolve_only:
            raise GalcatError(
                f"{out}: CSV cannot hold the embedding vectors; use .fits, .vot, .ecsv or .parquet"
            )
        if out.exists() and not cfg.overwrite:
            raise GalcatError(f"{out}: exists; pass --overwrite to replace it")
        if not out.parent.is_dir():
            raise GalcatError(f"{out.parent}: output folder does not exist")
    if cfg.keep_store and Path(cfg.keep_store).is_dir():
        raise GalcatError(f"{cfg.keep_store}: is a folder; --keep-store names the store file")
    if cfg.keep_store and Path(cfg.keep_store).exists():
        from galcat.paths import check_replaceable

        # a kept store from an interrupted run of this command is reused (the build checks that it
        # is the same build); anything else there is never replaced
        check_replaceable(cfg.keep_store, "store", "--keep-store")
    from galcat.images import SERVICES

    if cfg.images is None and cfg.service not in SERVICES:
        raise GalcatError(f"--service {cfg.service!r}: use one of {', '.join(SERVICES)}")
    if cfg.images is not None and not Path(cfg.images).is_dir():
        raise GalcatError(f"{cfg.images}: image folder does not exist")
    if cfg.k is not None and cfg.k < 1:
        raise GalcatError(f"--k must be at least 1, got {cfg.k}")
    _check_paths_and_ranges(cfg, out)
    return out


def _check_paths_and_ranges(cfg: ClassifyConfig, out: Path | None) -> None:
    """Outputs (table, kept store) that are none of the inputs, writable; option ranges."""
    from galcat.paths import check_table_output, check_writable, refuse_overwriting_inputs
    from galcat.ranges import bound, check_numbers

    check_numbers(
        cfg,
        {
            "k": bound("neighbours", allow_none=True),
            "workers": bound("workers"),
            "batch_size": bound("batch_size"),
            "pixels": bound("cutout_pixels", allow_none=True),
            "release": bound("data_release", allow_none=True),
            "scale": bound("positive", allow_none=True),
            "crop": {"low": 0, "high": 100_000, "integer": True, "option": "crop"},
        },
    )
    model = Path(cfg.model) if cfg.model else None
    inputs = {
        "--targets": cfg.targets,
        "--model": model,
        "--reference": cfg.reference,
        "--images": cfg.images,
    }
    if model is not None and model.is_dir():
        inputs["--model (config.json)"] = model / "config.json"
    refuse_overwriting_inputs({"--out": out, "--keep-store": cfg.keep_store}, inputs)
    if out is not None:
        check_table_output(out, cfg.overwrite)
    if cfg.keep_store:
        check_writable(cfg.keep_store, "--keep-store", kind="file")


def pixel_source(cfg: ClassifyConfig):
    """Local images matched by objid (any case), or the chosen cutout service."""
    from galcat.images import make_source

    return make_source(
        cfg.service, cfg.images, image_pattern=cfg.image_pattern, release=cfg.release, scale=cfg.scale,
        pixels=cfg.pixels, base_url=cfg.base_url, http=cfg.http,
    )  # fmt: skip


def default_reference(run) -> str | None:
    """The run's training store, when it is still there and labelled for the model's scheme."""
    from galcat.store import open_store

    path = getattr(run.config, "store", None)
    scheme = getattr(run.folds[0], "scheme", None)
    if not path or not scheme or not Path(path).is_file():
        return None
    try:
        with open_store(path) as store:
            return str(path) if scheme in store.schemes and (store.label_codes(scheme) >= 0).any() else None
    except (GalcatError, OSError):
        return None


def _build(cfg: ClassifyConfig, targets: Table, rows: np.ndarray, store_path: Path, size: int):
    """Build the store from ``targets[rows]``; returns (stored user rows, per-row failure records)."""
    from galcat.images import source_settings
    from galcat.images.result import failures_path
    from galcat.store.build import BuildConfig, build_store
    from galcat.store.preprocess import PreprocessConfig
    from galcat.tables import read_table

    source = pixel_source(cfg)
    listed = failures_path(store_path)
    # a kept store is replaced only with --overwrite; the same build finished earlier is reused as is
    overwrite = cfg.overwrite or not cfg.keep_store
    if overwrite or not store_path.exists():
        listed.unlink(missing_ok=True)
    config = BuildConfig(
        name="targets", catalogue=str(cfg.targets), images=cfg.images,
        service=None if cfg.images else cfg.service, **source_settings(source), resolver=cfg.resolver,
        preprocess=PreprocessConfig(crop=cfg.crop, size=size), workers=cfg.workers, overwrite=overwrite,
    )  # fmt: skip
    table = targets[rows]
    try:
        build_store(table, source, store_path, config, reuse_finished=True)
    except NetworkError as exc:  # the service cannot be reached at all: the build stops, each row says why
        return {int(row): ("failed", str(exc)) for row in rows}
    except GalcatError:
        if store_path.exists() or not listed.exists():
            raise
    failed = read_table(listed) if listed.exists() else Table({"row": np.zeros(0, int)})
    return {int(rows[int(r["row"])]): (str(r["status"]), str(r["error"])) for r in failed}


def _status_text(status: str, error: str, local: bool, note: str = "") -> str:
    """The ``classify_status`` of a row the store build could not use; ``note`` is its ``resolve_note``."""
    from galcat.catalogues.targets import position_status

    if status == "blank":
        kind = "blank cutout"
    elif not local:
        kind = "download failed"
    else:
        kind = "no image" if "no image file" in error else "image not read"
    unresolved = position_status(note) if note else ""
    if kind == "no image" and unresolved.startswith("unresolved name"):
        return f"{unresolved}; {error}"  # the name is the likelier mistake than the folder
    return f"{kind}: {error}" if error else kind


#: how long the other torchrun ranks wait for rank 0's build (a network build of many cutouts takes hours)
BUILD_WAIT = timedelta(days=7)


@dataclass
class _Job:
    """Rank 0's state between building the target store and writing the output table."""

    out: Path | None
    run: object  #: the loaded run (None with resolve_only)
    user: Table
    targets: Table
    status: np.ndarray  #: per user row: "" until known, else why it has no prediction
    origin: np.ndarray  #: per user row: URL or file of the pixels
    store_path: Path
    workdir: Path | None  #: the hidden folder of the store (None with --keep-store)
    reference: str | None = None

    def shared(self) -> dict:
        """What every torchrun rank needs to embed its share of the built store."""
        built = self.store_path.exists()
        beside = self.out if self.out is not None else self.store_path
        return {
            "out": str(beside), "store": str(self.store_path) if built else None,
            "reference": self.reference if built else None,
        }  # fmt: skip


def classify_targets(cfg: ClassifyConfig) -> ClassifyResult | None:
    """Run the whole target-list pipeline; write ``cfg.out`` when given (and send it over SAMP when asked).

    Every row of the user's table comes back, in order, with the same columns whatever happened;
    the returned :class:`ClassifyResult` holds the table (also without ``cfg.out``). Under
    ``torchrun`` rank 0 alone reads the targets and builds their store while the other ranks
    wait (a failed build stops them with the same error); then every rank embeds its share of the
    store's rows (part files beside the output, so a killed run resumes) and rank 0 writes the
    table. The other ranks write nothing and return ``None``.
    """
    if cfg.resolve_only:
        return _resolve_only(cfg)
    from galcat.outputs.embed import EmbedConfig, embed_catalogue
    from galcat.outputs.shards import finish, main_rank_first, process_group

    with process_group(timeout=BUILD_WAIT) as info:
        job, shared = main_rank_first(info, lambda: _prepare(cfg), _Job.shared)
        try:
            annotated = None
            if shared["store"] is not None:
                embed = EmbedConfig(
                    model=cfg.model, store=shared["store"], out=None, reference=shared["reference"], k=cfg.k,
                    batch_size=cfg.batch_size, device=cfg.device, predict_turns=cfg.predict_turns,
                )  # fmt: skip
                annotated = embed_catalogue(embed, parts_beside=shared["out"])
            if job is None:  # a torchrun rank other than 0: rank 0 writes the table
                return None
            table, used = _write_output(cfg, job, annotated)
        except BaseException:
            if job is not None:
                _drop_workdir(job.workdir)
            raise
    if job.out is not None:
        finish(job.out)
    if job.workdir is not None:
        shutil.rmtree(job.workdir, ignore_errors=True)
    if cfg.samp and job.out is not None:
        from galcat.outputs.samp import offer_table

        offer_table(job.out, name=job.out.name)
    return _result(table, used, job, cfg, annotated)


def _drop_workdir(workdir: Path | None) -> None:
    """After a failure: remove the hidden store folder unless an unfinished build can resume there."""
    if workdir is not None and not any(workdir.glob("*.partial*")):
        shutil.rmtree(workdir, ignore_errors=True)


def _read(cfg: ClassifyConfig) -> tuple[Table, Table, np.ndarray]:
    """(the user's table, the standard target table, the status of each row that has no position)."""
    from galcat.catalogues.targets import position_status, read_targets, read_user_table

    user = read_user_table(cfg.targets)
    targets = read_targets(
        cfg.targets, resolver=cfg.resolver, frame=cfg.frame, equinox=cfg.equinox, id_column=cfg.id_column,
        name_column=cfg.name_column, ra_column=cfg.ra_column, dec_column=cfg.dec_column, table=user,
    )  # fmt: skip
    status = np.full(len(user), "", dtype=object)
    for i in np.flatnonzero(np.ma.getmaskarray(targets["ra"])):
        status[i] = position_status(str(targets["resolve_note"][i]))
    return user, targets, status


def _resolve_only(cfg: ClassifyConfig) -> ClassifyResult:
    """The user's table with the positions galcat would use and each row's status: no images, no model."""
    out = _check_out(cfg)
    user, targets, status = _read(cfg)
    status[status == ""] = RESOLVED
    job = _Job(out, None, user, targets, status, np.full(len(user), "", dtype=object), Path(), None)
    table, used = _write_output(cfg, job, None)
    if cfg.samp and out is not None:
        from galcat.outputs.samp import offer_table

        offer_table(out, name=out.name)
    return _result(table, used, job, cfg, None)


def _prepare(cfg: ClassifyConfig) -> _Job:
    """Check the request, read and resolve the targets and build their store (rank 0 only)."""
    from galcat.model import load_run
    from galcat.model.ensemble import select_folds

    out = _check_out(cfg)
    run = load_run(cfg.model, cfg.predict_turns)
    select_folds(run, None)  # an unfinished or damaged run is refused before any target is read
    user, targets, status = _read(cfg)
    n = len(user)
    # without --keep-store, a fixed folder beside the output: an interrupted run resumes its partial store
    if cfg.keep_store:
        workdir = None
    elif out is not None:
        workdir = out.parent / f".{out.name}.galcat-work"
        workdir.mkdir(exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="galcat-classify-"))
    store_path = Path(cfg.keep_store) if cfg.keep_store else workdir / "targets.h5"
    job = _Job(out, run, user, targets, status, np.full(n, "", dtype=object), store_path, workdir)
    job.reference = cfg.reference or default_reference(run)
    known = ~np.ma.getmaskarray(targets["ra"])
    rows = np.arange(n) if cfg.images is not None else np.flatnonzero(known)
    try:
        if len(rows):
            records = _build(cfg, targets, rows, job.store_path, run.predictor(calibrate=False).image_size)
            for row, (st, error) in records.items():
                note = "" if known[row] else str(targets["resolve_note"][row])
                job.status[row] = _status_text(st, error, cfg.images is not None, note)
    except BaseException:
        _drop_workdir(job.workdir)
        raise
    return job


def _write_output(cfg: ClassifyConfig, job: _Job, annotated) -> tuple[Table, dict]:
    """The user's table with positions, predictions and per-row status, written to ``job.out`` if any."""
    from galcat.store import open_store
    from galcat.tables import write_table

    stored_rows, base_columns = np.zeros(0, dtype=np.int64), set()
    if annotated is not None:
        with open_store(job.store_path) as store:
            stored_rows = np.asarray(store.catalogue["target_row"], dtype=np.int64) - 1
            job.origin[stored_rows] = [str(s) for s in store.provenance("source")]
            base_columns = set(store.catalogue.colnames)
        job.status[stored_rows] = OK
    model = {}
    if job.run is not None:
        template = model_template(job.run, job.reference, cfg.k, cfg.model)
        names = [
            *template.colnames,
            *(c for c in getattr(annotated, "colnames", []) if c not in base_columns),
        ]
        for name in dict.fromkeys(names):
            given = annotated is not None and name in annotated.colnames
            column, rows = (annotated[name], stored_rows) if given else (template[name], stored_rows[:0])
            model[name] = scatter_column(column, rows, len(job.user), name)
    table, used = output_table(job.user, job.targets, model)
    why = "'ok', or why the row has no prediction"
    used.update(add_columns(table, {
        "classify_status": Column([str(s) for s in job.status], description=why),
        "image_origin": Column([str(s) for s in job.origin], description="URL or file the pixels came from"),
    }))  # fmt: skip
    table.meta.update(output_meta(cfg, job.run, job.reference, job.targets))
    renamed = {name: new for name, new in used.items() if name != new}
    if renamed:
        table.meta["classify_renamed"] = renamed
    if job.out is not None:
        write_table(table, job.out, overwrite=cfg.overwrite)
    return table, used


def _result(table: Table, used: dict, job: _Job, cfg: ClassifyConfig, annotated) -> ClassifyResult:
    store = Path(cfg.keep_store) if cfg.keep_store else None
    status = np.asarray(job.status, dtype=object)
    return summarise(
        ClassifyResult(table, job.out, store, status, used, cfg.resolve_only), job.run, annotated
    )
