"""Summaries of a store (``galcat info``) and a full integrity check (``galcat info --verify``).

Verification reads every dataset of the store: every chunk of ``images`` (and ``original``) is
read and each row compared with the pixel sha256 recorded when it was written (an HDF5 read
error is reported with the row range of its chunk), the fingerprint is recomputed, and the
catalogue, every label scheme, every target set, the provenance and the root attributes are read
and checked for length and content. Damage is collected as findings, never raised as a traceback.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from galcat.errors import GalcatError
from galcat.store.reader import DAMAGE_ERRORS, open_store
from galcat.store.writer import DATASET_CHECKSUMS_ATTR, dataset_digest, pixel_digest, store_fingerprint


@dataclass
class VerifyReport:
    n_rows: int
    rows_checked: int = 0
    problems: list[str] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, path) -> str:
        """One line for the CLI: the file, how many problems, which rows, the first problem."""
        rows = sorted(set(self.bad_rows))
        if not rows:
            where = "no image rows"
        elif len(rows) == 1:
            where = f"row {rows[0]}"
        else:
            where = f"rows {rows[0]}-{rows[-1]} ({len(rows)} rows)"
        return (
            f"{path}: damaged store: {len(self.problems)} problem(s), {where} affected; "
            f"first: {self.problems[0]}"
        )


def _finding(report: VerifyReport, what: str, check) -> None:
    """Run ``check()``; any damage it meets becomes a finding about ``what``."""
    try:
        problem = check()
    except (*DAMAGE_ERRORS, GalcatError) as exc:
        problem = f"unreadable ({' '.join(str(exc).split())[:160] or type(exc).__name__})"
    if problem:
        report.problems.append(f"{what}: {problem}")


def _check_pixels(store, report: VerifyReport, dataset: str, expected: list[str] | None) -> None:
    images = store.file[dataset]
    n = report.n_rows
    if images.shape[0] != n:
        report.problems.append(f"{dataset}: {images.shape[0]} rows for {n} images")
        return
    step = (images.chunks or (64,))[0]
    for start in range(0, n, step):
        stop = min(start + step, n)
        try:
            block = images[start:stop]
        except DAMAGE_ERRORS as exc:  # h5py raises OSError/RuntimeError for bad chunks
            report.problems.append(f"{dataset} rows {start}-{stop - 1}: HDF5 read error ({exc})")
            report.bad_rows.extend(range(start, stop))
            continue
        if expected is not None:
            for offset, image in enumerate(block):
                if pixel_digest(image) != expected[start + offset]:
                    report.problems.append(
                        f"{dataset} row {start + offset}: pixels do not match their checksum"
                    )
                    report.bad_rows.append(start + offset)
            report.rows_checked += stop - start


def _labels_problem(store, scheme: str, n: int) -> str:
    classes = store.class_names(scheme)
    codes = store.label_codes(scheme)
    if len(codes) != n:
        return f"{len(codes)} codes for {n} rows"
    bad = np.flatnonzero((codes < -1) | (codes >= len(classes)))
    return f"rows {bad[:5].tolist()} hold codes outside -1..{len(classes) - 1}" if len(bad) else ""


def _targets_problem(store, name: str, n: int) -> str:
    columns = store.target_names(name)
    values = store.targets(name)
    return (
        f"shape {values.shape}, expected ({n}, {len(columns)})" if values.shape != (n, len(columns)) else ""
    )


def verify_store(path) -> VerifyReport:
    """Check every dataset of the store (see the module docstring); never raises on damage.

    A store whose header cannot be read at all is a GalcatError from :func:`open_store`.
    """
    store = open_store(path)
    n = len(store)
    report = VerifyReport(n_rows=n)
    expected: list[str] | None = None
    try:
        expected = store.pixel_checksums
        if len(expected) != n:
            report.problems.append(f"checksums/pixels: {len(expected)} checksums for {n} rows")
            expected = None
    except GalcatError as exc:
        report.problems.append(f"checksums/pixels: {exc}")
    _check_pixels(store, report, "images", expected)
    if expected is not None:
        _finding(
            report,
            "fingerprint",
            lambda: (
                "does not match the recorded pixel checksums"
                if store_fingerprint(expected, n, store.image_shape) != store.fingerprint
                else ""
            ),
        )
    _finding(
        report,
        "original",
        lambda: _check_pixels(store, report, "original", None) if store.has_original else "",
    )
    _finding(
        report,
        "catalogue",
        lambda: f"{len(store.catalogue)} rows for {n} images" if len(store.catalogue) != n else "",
    )
    for scheme in _listing(report, "labels", lambda: store.schemes):
        _finding(report, f"labels/{scheme}", lambda s=scheme: _labels_problem(store, s, n))
    for name in _listing(report, "targets", lambda: store.target_sets):
        _finding(report, f"targets/{name}", lambda t=name: _targets_problem(store, t, n))
    for key in ("source", "sha256", "status"):
        _finding(
            report, f"provenance/{key}", lambda k=key: "wrong length" if len(store.provenance(k)) != n else ""
        )
    _check_dataset_checksums(store, report)
    _finding(
        report, "config attribute", lambda: "" if isinstance(store.config, dict) else "not a JSON object"
    )
    _finding(
        report, "build_summary attribute", lambda: json.loads(store.attrs.get("build_summary", "{}")) and ""
    )
    store.close()
    return report


def _check_dataset_checksums(store, report: VerifyReport) -> None:
    """Every non-pixel dataset against the sha256 recorded when the store was written."""
    try:
        recorded = json.loads(store.file.attrs.get(DATASET_CHECKSUMS_ATTR, "{}"))
    except (*DAMAGE_ERRORS, GalcatError) as exc:
        report.problems.append(f"{DATASET_CHECKSUMS_ATTR} attribute: unreadable ({exc})")
        return
    for name, digest in sorted(recorded.items()):
        _finding(
            report,
            name,
            lambda n=name, d=digest: (
                "" if dataset_digest(store.file[n]) == d else "content does not match its checksum"
            ),
        )


def _listing(report: VerifyReport, what: str, names) -> list[str]:
    try:
        return list(names())
    except GalcatError as exc:
        report.problems.append(f"{what}: {exc}")
        return []


def store_info(path) -> dict:
    """Counts and settings of a store, as plain data (the CLI prints it); damage is a GalcatError."""
    store = open_store(path)
    try:
        return _store_info(store)
    except DAMAGE_ERRORS as exc:
        raise GalcatError(
            f"{path}: the store is damaged ({' '.join(str(exc).split())[:160]}); "
            f"`galcat info --verify {path}` lists what is damaged"
        ) from None
    finally:
        store.close()


def _store_info(store) -> dict:
    config = store.config
    labels = {}
    for scheme in store.schemes:
        codes = store.label_codes(scheme)
        names = store.class_names(scheme)
        valid = (codes >= 0) & (codes < len(names))
        counts = np.bincount(codes[valid], minlength=len(names))
        labels[scheme] = {name: int(c) for name, c in zip(names, counts, strict=True)}
        labels[scheme]["(unlabelled)"] = int((codes == -1).sum())
        if (~valid & (codes != -1)).any():
            labels[scheme]["(invalid codes)"] = int((~valid & (codes != -1)).sum())
    attrs = store.attrs
    info = {
        "path": str(store.path),
        "n_images": len(store),
        "image_shape": list(store.image_shape),
        "original_shape": list(store.read_images(slice(0, 0), "original").shape[1:])
        if store.has_original
        else None,
        "fingerprint": store.fingerprint,
        "created": attrs.get("created"),
        "galcat_version": attrs.get("galcat_version"),
        "schema_version": attrs.get("schema_version"),
        "catalogue": store.catalogue.meta.get("catalogue"),
        "labels": labels,
        "targets": {name: len(store.target_names(name)) for name in store.target_sets},
        "provenance_status": dict(Counter(store.provenance("status"))),
        "build_summary": json.loads(attrs.get("build_summary", "{}")),
        "config": {
            k: config.get(k)
            for k in (
                "name",
                "catalogue",
                "images",
                "service",
                "preprocess",
                "crop",
                "crop_reference",
                "crop_relative",
                "size",
                "resample",
                "keep_original",
                "present_only",
                "limit",
                "exclude",
            )
            if k in config
        },
    }
    return info


def format_info(info: dict) -> str:
    """Human-readable ``galcat info`` text."""
    lines = [
        f"store        {info['path']}",
        f"images       {info['n_images']} x {tuple(info['image_shape'])}"
        + (f"  (original {tuple(info['original_shape'])})" if info["original_shape"] else ""),
        f"catalogue    {info['catalogue']}",
        f"fingerprint  {info['fingerprint']}",
        f"created      {info['created']}  galcat {info['galcat_version']}  schema {info['schema_version']}",
    ]
    if not info["labels"]:
        lines.append(
            "labels       none (unlabelled store: embed, neighbours and classify work; train does not)"
        )
    for scheme, counts in info["labels"].items():
        lines.append(f"labels[{scheme}]")
        lines.extend(f"  {name:<14} {count}" for name, count in counts.items())
    for name, k in info["targets"].items():
        lines.append(f"targets[{name}] {k} columns")
    lines.append(
        "provenance   " + ", ".join(f"{k}={v}" for k, v in sorted(info["provenance_status"].items()))
    )
    summary = info["build_summary"]
    if summary:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(summary.get("status_counts", {}).items()))
        lines.append(
            f"build        {summary.get('n_rows')} rows considered, {summary.get('n_stored')} stored "
            f"({counts}), {summary.get('excluded', 0)} excluded, "
            f"{summary.get('not_in_archive', 0)} without an image file skipped, "
            f"{summary.get('no_image_file', 0)} without an image file reported as failed"
        )
    lines.append("config       " + ", ".join(f"{k}={v}" for k, v in info["config"].items() if v is not None))
    return "\n".join(lines)
