"""Summaries of a store (``galcat info``) and a full integrity check (``galcat info --verify``).

Verification reads every chunk of ``images``: an HDF5 read error (e.g. a damaged gzip chunk) is
reported with the row range of that chunk, and every readable row is compared with the pixel
sha256 recorded when it was written. The store fingerprint is recomputed from those checksums.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from galcat.store.reader import open_store
from galcat.store.writer import pixel_digest, store_fingerprint


@dataclass
class VerifyReport:
    n_rows: int
    rows_checked: int = 0
    problems: list[str] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(path) -> VerifyReport:
    """Re-check every row's pixels against its recorded checksum; never raises on damage."""
    store = open_store(path)
    n = len(store)
    report = VerifyReport(n_rows=n)
    try:
        expected = store.pixel_checksums
    except Exception as exc:  # noqa: BLE001 - any damage is a verification finding
        report.problems.append(f"checksums/pixels unreadable: {exc}")
        return report
    if len(expected) != n:
        report.problems.append(f"{len(expected)} pixel checksums for {n} rows")
        return report
    images = store.file["images"]
    step = (images.chunks or (64,))[0]
    for start in range(0, n, step):
        stop = min(start + step, n)
        try:
            block = images[start:stop]
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError/RuntimeError for bad chunks
            report.problems.append(f"rows {start}-{stop - 1}: HDF5 read error ({exc})")
            report.bad_rows.extend(range(start, stop))
            continue
        for offset, image in enumerate(block):
            row = start + offset
            if pixel_digest(image) != expected[row]:
                report.problems.append(f"row {row}: pixels do not match their checksum")
                report.bad_rows.append(row)
        report.rows_checked += stop - start
    if store_fingerprint(expected, n, store.image_shape) != store.fingerprint:
        report.problems.append("fingerprint does not match the recorded pixel checksums")
    for key in ("source", "sha256", "status"):
        try:
            if len(store.provenance(key)) != n:
                report.problems.append(f"provenance/{key} has the wrong length")
        except Exception as exc:  # noqa: BLE001
            report.problems.append(f"provenance/{key} unreadable: {exc}")
    try:
        if len(store.catalogue) != n:
            report.problems.append(f"catalogue has {len(store.catalogue)} rows for {n} images")
    except Exception as exc:  # noqa: BLE001
        report.problems.append(f"catalogue unreadable: {exc}")
    store.close()
    return report


def store_info(path) -> dict:
    """Counts and settings of a store, as plain data (the CLI prints it)."""
    store = open_store(path)
    config = store.config
    labels = {}
    for scheme in store.schemes:
        codes = store.label_codes(scheme)
        names = store.class_names(scheme)
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        labels[scheme] = {name: int(c) for name, c in zip(names, counts, strict=True)}
        labels[scheme]["(unlabelled)"] = int((codes < 0).sum())
    attrs = store.attrs
    info = {
        "path": str(store.path),
        "n_images": len(store),
        "image_shape": list(store.image_shape),
        "original_shape": list(store.file["original"].shape[1:]) if store.has_original else None,
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
    store.close()
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
