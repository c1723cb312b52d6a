"""What one fetch returns, and the counts a whole download run reports."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

STATUSES = ("ok", "cached", "blank", "failed")
#: columns of ``NAME.failures.ecsv``: one row per catalogue row without a usable image
FAILURE_COLUMNS = ("row", "objid", "status", "origin", "error")


@dataclass
class FetchResult:
    """The outcome for one catalogue row; ``row_index`` ties it back to the row (order-free)."""

    objid: str
    row_index: int
    status: str  # 'ok' (downloaded) | 'cached' | 'blank' | 'failed'
    image: np.ndarray | None = None  # uint8 (H, W, 3); None when failed
    sha256: str = ""  # of the raw payload bytes
    origin: str = ""  # URL or file path
    error: str = ""
    attempts: int = 0  # HTTP requests made for this row (0 when served from cache / disk)

    @property
    def usable(self) -> bool:
        """True when the image can be stored as a galaxy."""
        return self.status in ("ok", "cached") and self.image is not None


@dataclass
class FetchSummary:
    """Counts for a run; written beside the store as ``fetch_summary.json``."""

    total: int = 0
    downloaded: int = 0
    cached: int = 0
    blank: int = 0
    failed: int = 0
    requests: int = 0
    elapsed_s: float = 0.0
    source: str = ""
    failures: list[dict] = field(default_factory=list)  # FAILURE_COLUMNS of each blank/failed row

    def add(self, result: FetchResult) -> None:
        self.total += 1
        self.requests += result.attempts
        if result.status == "ok":
            self.downloaded += 1
        elif result.status == "cached":
            self.cached += 1
        elif result.status == "blank":
            self.blank += 1
        else:
            self.failed += 1
        if result.status in ("blank", "failed"):
            self.failures.append(
                {
                    "row": int(result.row_index),
                    "objid": result.objid,
                    "status": result.status,
                    "origin": result.origin,
                    "error": result.error,
                }
            )

    def counts(self) -> dict:
        """The summary without the per-row failures list (for printing)."""
        data = asdict(self)
        data.pop("failures")
        return data

    def status_text(self) -> str:
        """The non-zero counts, short enough for a progress bar in an 80-column terminal."""
        counts = (
            ("new", self.downloaded),
            ("cached", self.cached),
            ("blank", self.blank),
            ("failed", self.failed),
        )
        return " ".join(f"{name} {n}" for name, n in counts if n)


def failures_path(store_path: str | os.PathLike) -> Path:
    """``NAME.failures.ecsv`` beside the store ``NAME.h5``."""
    path = Path(store_path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + ".failures.ecsv")


def write_failures(path: str | os.PathLike, failures: list[dict], meta: dict) -> Path | None:
    """Write the rows without a usable image (dicts with :data:`FAILURE_COLUMNS`) as an ECSV table.

    No failures: an earlier table at ``path`` is removed (it would describe another run) and
    None is returned.
    """
    from astropy.table import Table

    from galcat.tables import write_table

    path = Path(path)
    if not failures:
        path.unlink(missing_ok=True)
        return None
    rows = sorted(failures, key=lambda r: r["row"])
    columns = {name: np.array([str(r[name]) for r in rows], dtype=str) for name in FAILURE_COLUMNS}
    columns["row"] = np.array([r["row"] for r in rows], dtype=np.int64)
    return write_table(Table(columns, meta=meta), path, overwrite=True)
