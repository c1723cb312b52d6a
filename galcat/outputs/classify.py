"""``galcat classify``: an astronomer's target list in, the same list out with morphology columns.

One call resolves the targets (names through a resolver, positions in any notation), fetches
cutouts (disk cache, retries, resumable build) or reads local images matched by id, builds an
unlabelled store, runs the model exactly as ``galcat embed`` does (the fold ensemble with its
uncertainty columns where the run has folds, one model otherwise) with the k nearest labelled
reference galaxies, and writes the user's table back with every column and row in the user's
order plus galcat's columns. A row that could not be classified keeps masked predictions and a
``classify_status`` saying why.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.net import HttpConfig
from galcat.outputs.join import add_columns, has_main_position
from galcat.tables import DEC_UCD, RA_UCD

OK = "ok"


@dataclass
class ClassifyConfig:
    """Everything one ``galcat classify`` run depends on (saved in the output's meta)."""

    model: str  #: training run directory
    targets: str  #: the user's target list (CSV/TSV, FITS, VOTable, ECSV, Parquet)
    out: str  #: output table (.fits, .vot, .ecsv, .parquet)
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
    k: int = 10
    workers: int = 4
    batch_size: int = 128
    device: str | None = None
    predict_turns: int | None = None  # views a prediction averages (1 or 4); None: as trained
    overwrite: bool = False
    http: HttpConfig | None = None  #: retries and timeouts of the cutout downloads


@dataclass
class ClassifyResult:
    table: Table  #: the user's table plus galcat's columns
    out: Path
    store: Path | None  #: the kept store (None when it was a temporary one)
    class_counts: dict = field(default_factory=dict)  #: predicted class -> rows
    failures: dict = field(default_factory=dict)  #: reason -> rows
    examples: dict = field(default_factory=dict)  #: reason -> one example row

    @property
    def n_classified(self) -> int:
        return int(np.count_nonzero(np.asarray(self.table["classify_status"]) == OK))


def _check_out(cfg: ClassifyConfig) -> Path:
    from galcat.tables import table_format

    out = Path(cfg.out)
    table_format(out)  # an unknown extension fails before any download
    if out.suffix.lower() == ".csv":
        raise GalcatError(f"{out}: CSV cannot hold the embedding vectors; use .fits, .vot, .ecsv or .parquet")
    if out.exists() and not cfg.overwrite:
        raise GalcatError(f"{out}: exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise GalcatError(f"{out.parent}: output folder does not exist")
    if cfg.keep_store and Path(cfg.keep_store).exists() and not cfg.overwrite:
        raise GalcatError(f"{cfg.keep_store}: store exists; pass --overwrite to replace it")
    from galcat.images import SERVICES

    if cfg.images is None and cfg.service not in SERVICES:
        raise GalcatError(f"--service {cfg.service!r}: use one of {', '.join(SERVICES)}")
    if cfg.images is not None and not Path(cfg.images).is_dir():
        raise GalcatError(f"{cfg.images}: image folder does not exist")
    if cfg.k < 1:
        raise GalcatError(f"--k must be at least 1, got {cfg.k}")
    _check_paths_and_ranges(cfg, out)
    return out


def _check_paths_and_ranges(cfg: ClassifyConfig, out: Path) -> None:
    """Outputs (table, kept store) that are none of the inputs, writable; option ranges."""
    from galcat.paths import check_writable, refuse_overwriting_inputs
    from galcat.ranges import check_numbers

    check_numbers(
        cfg,
        {
            "k": {"low": 1, "high": 100_000, "integer": True},
            "workers": {"low": 1, "high": 256, "integer": True},
            "batch_size": {"low": 1, "high": 1 << 20, "integer": True},
            "pixels": {"low": 1, "high": 4096, "integer": True, "allow_none": True},
            "scale": {"low": 0, "low_open": True, "allow_none": True},
        },
    )
    model = Path(cfg.model)
    inputs = {
        "--targets": cfg.targets,
        "--model": model,
        "--reference": cfg.reference,
        "--images": cfg.images,
    }
    if model.is_dir():
        inputs["--model (config.json)"] = model / "config.json"
    refuse_overwriting_inputs({"--out": out, "--keep-store": cfg.keep_store}, inputs)
    check_writable(out)


def pixel_source(cfg: ClassifyConfig):
    """Local images matched by objid (any case), or the chosen cutout service."""
    from galcat.images import make_source

    return make_source(
        cfg.service, cfg.images, image_pattern=cfg.image_pattern, release=cfg.release, scale=cfg.scale,
        pixels=cfg.pixels, base_url=cfg.base_url, http=cfg.http,
    )  # fmt: skip


def _model_image_size(run) -> int:
    fold = run.folds[0]
    return int(getattr(fold.model, "image_size", None) or getattr(run.config, "image_size", None) or 75)


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
    listed.unlink(missing_ok=True)
    config = BuildConfig(
        name="targets", catalogue=str(cfg.targets), images=cfg.images,
        service=None if cfg.images else cfg.service, **source_settings(source), resolver=cfg.resolver,
        preprocess=PreprocessConfig(crop=cfg.crop, size=size), workers=cfg.workers, overwrite=True,
    )  # fmt: skip
    table = targets[rows]
    try:
        build_store(table, source, store_path, config)
    except GalcatError:
        if store_path.exists() or not listed.exists():
            raise
    failed = read_table(listed) if listed.exists() else Table({"row": np.zeros(0, int)})
    return {int(rows[int(r["row"])]): (str(r["status"]), str(r["error"])) for r in failed}


def _status_text(status: str, error: str, local: bool) -> str:
    kind = "blank cutout" if status == "blank" else ("image not read" if local else "download failed")
    return f"{kind}: {error}" if error else kind


#: how long the other torchrun ranks wait for rank 0's build (a network build of many cutouts takes hours)
BUILD_WAIT = timedelta(days=7)


@dataclass
class _Job:
    """Rank 0's state between building the target store and writing the output table."""

    out: Path
    run: object
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
        return {
            "out": str(self.out), "store": str(self.store_path) if built else None,
            "reference": self.reference if built else None,
        }  # fmt: skip


def classify_targets(cfg: ClassifyConfig) -> ClassifyResult | None:
    """Run the whole target-list pipeline; write ``cfg.out`` (and send it over SAMP when asked).

    Under ``torchrun`` rank 0 alone reads the targets and builds their store while the other ranks
    wait (a failed build stops them with the same error); then every rank embeds its share of the
    store's rows (part files beside the output, so a killed run resumes) and rank 0 writes the
    table. The other ranks write nothing and return ``None``.
    """
    from galcat.outputs.embed import EmbedConfig, embed_catalogue
    from galcat.outputs.shards import finish, main_rank_first, process_group

    with process_group(timeout=BUILD_WAIT) as info:
        job, shared = main_rank_first(info, lambda: _prepare(cfg), _Job.shared)
        try:
            annotated = None
            if shared["store"] is not None:
                embed = EmbedConfig(
                    model=cfg.model, store=shared["store"], out=None, reference=shared["reference"], k=cfg.k,
                    batch_size=cfg.batch_size, device=cfg.device,
                )  # fmt: skip
                annotated = embed_catalogue(embed, parts_beside=shared["out"])
            if job is None:  # a torchrun rank other than 0: rank 0 writes the table
                return None
            table = _write_output(cfg, job, annotated)
        except BaseException:
            if job is not None:
                _drop_workdir(job.workdir)
            raise
    finish(job.out)
    if job.workdir is not None:
        shutil.rmtree(job.workdir, ignore_errors=True)
    if cfg.samp:
        from galcat.outputs.samp import send_table

        send_table(job.out, name=job.out.name)
    return _result(table, job.out, cfg, annotated, job.run)


def _drop_workdir(workdir: Path | None) -> None:
    """After a failure: remove the hidden store folder unless an unfinished build can resume there."""
    if workdir is not None and not any(workdir.glob("*.partial*")):
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare(cfg: ClassifyConfig) -> _Job:
    """Check the request, read and resolve the targets and build their store (rank 0 only)."""
    from galcat.catalogues.targets import read_targets, read_user_table
    from galcat.model import load_run

    out = _check_out(cfg)
    if cfg.samp:
        from galcat.outputs.samp import check_hub

        check_hub()
    run = load_run(cfg.model, cfg.predict_turns)
    user = read_user_table(cfg.targets)
    targets = read_targets(
        cfg.targets, resolver=cfg.resolver, frame=cfg.frame, equinox=cfg.equinox, id_column=cfg.id_column,
        name_column=cfg.name_column, ra_column=cfg.ra_column, dec_column=cfg.dec_column, table=user,
    )  # fmt: skip
    n = len(user)
    # without --keep-store, a fixed folder beside the output: an interrupted run resumes its partial store
    workdir = None if cfg.keep_store else out.parent / f".{out.name}.galcat-work"
    store_path = Path(cfg.keep_store) if cfg.keep_store else workdir / "targets.h5"
    blank = np.full(n, "", dtype=object)
    job = _Job(out, run, user, targets, blank.copy(), blank.copy(), store_path, workdir)
    known = ~np.ma.getmaskarray(targets["ra"])
    if cfg.images is None:
        for i in np.flatnonzero(~known):
            job.status[i] = f"no position: {targets['resolve_note'][i]}"
    rows = np.arange(n) if cfg.images is not None else np.flatnonzero(known)
    if workdir is not None:
        workdir.mkdir(exist_ok=True)
    try:
        if len(rows):
            records = _build(cfg, targets, rows, job.store_path, _model_image_size(run))
            for row, (st, error) in records.items():
                job.status[row] = _status_text(st, error, cfg.images is not None)
            if job.store_path.exists():
                job.reference = cfg.reference or default_reference(run)
    except BaseException:
        _drop_workdir(job.workdir)
        raise
    return job


def _write_output(cfg: ClassifyConfig, job: _Job, annotated) -> Table:
    """The user's table with positions, predictions and per-row status, written to ``job.out``."""
    from galcat.store import open_store
    from galcat.tables import write_table

    stored_rows, base_columns = np.zeros(0, dtype=np.int64), set()
    if annotated is not None:
        with open_store(job.store_path) as store:
            stored_rows = np.asarray(store.catalogue["target_row"], dtype=np.int64) - 1
            job.origin[stored_rows] = [str(s) for s in store.provenance("source")]
            base_columns = set(store.catalogue.colnames)
        job.status[stored_rows] = OK
    table = _output_table(job.user, job.targets, annotated, base_columns, stored_rows)
    why = "'ok', or why the row has no prediction"
    add_columns(table, {
        "classify_status": Column([str(s) for s in job.status], description=why),
        "image_origin": Column([str(s) for s in job.origin], description="URL or file the pixels came from"),
    })  # fmt: skip
    table.meta.update(_meta(cfg, job.run, job.reference, job.targets))
    write_table(table, job.out, overwrite=cfg.overwrite)
    return table


def _output_table(user: Table, targets: Table, annotated, base_columns: set, stored_rows) -> Table:
    """The user's table with ICRS positions, where they came from, and the model's columns."""
    table = user.copy(copy_data=True)
    main = not has_main_position(user)  # the user's own RA/Dec stay the main position if they have one
    ra_ucd, dec_ucd = (RA_UCD, DEC_UCD) if main else (RA_UCD.split(";")[0], DEC_UCD.split(";")[0])
    columns = {}
    for name, ucd, text in (("ra", ra_ucd, "right ascension"), ("dec", dec_ucd, "declination")):
        values = np.asarray(targets[name].filled(np.nan), dtype=np.float64)
        col = MaskedColumn(values, unit=u.deg, mask=np.ma.getmaskarray(targets[name]))
        col.description = f"ICRS {text} used by galcat"
        col.meta["ucd"] = ucd
        columns[f"{name}_icrs"] = col
    columns["position_source"] = Column(
        [str(s) for s in targets["position_source"]], description="Where ra_icrs/dec_icrs came from"
    )
    add_columns(table, columns)
    if annotated is not None:
        new = [c for c in annotated.colnames if c not in base_columns]
        add_columns(table, {c: annotated[c] for c in new}, stored_rows)
    return table


def _meta(cfg: ClassifyConfig, run, reference, targets: Table) -> dict:
    from galcat.config import to_dict

    return {
        "classify_config": to_dict(cfg),
        "classify_model": str(cfg.model),
        "classify_folds": len(run.folds),
        "classify_targets": str(cfg.targets),
        "classify_source": str(cfg.images) if cfg.images else cfg.service,
        "classify_reference": str(reference or ""),
        "classify_resolver": str(cfg.resolver or ""),
        "n_unresolved": int(targets.meta.get("n_unresolved", 0)),
    }


def _result(table: Table, out: Path, cfg: ClassifyConfig, annotated, run) -> ClassifyResult:
    from galcat.outputs.columns import sanitize_name

    result = ClassifyResult(table, out, Path(cfg.keep_store) if cfg.keep_store else None)
    scheme = getattr(run.folds[0], "scheme", None)
    pred = f"pred_{sanitize_name(scheme or 'class')}"
    if annotated is not None and pred in annotated.colnames:
        counts = Counter(str(v) for v in annotated[pred])
        result.class_counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    for row, text in enumerate(table["classify_status"], start=1):
        if text != OK:
            reason = str(text).split(":", 1)[0]
            result.failures[reason] = result.failures.get(reason, 0) + 1
            result.examples.setdefault(reason, f"row {row}: {text}")
    return result


def format_summary(result: ClassifyResult) -> list[str]:
    """Lines the CLI prints: where the table went, counts per predicted class, failures with reasons."""
    n = len(result.table)
    lines = [f"wrote {result.out}: {n} rows, {result.n_classified} classified, {n - result.n_classified} not"]
    if result.class_counts:
        lines.append("predicted: " + ", ".join(f"{c} {k}" for c, k in result.class_counts.items()))
    for reason, count in sorted(result.failures.items(), key=lambda kv: -kv[1]):
        lines.append(f"not classified ({reason}): {count} rows, e.g. {result.examples[reason][:160]}")
    if result.store is not None:
        lines.append(f"store kept at {result.store}")
    return lines
