"""What one fetch returns, and the counts a whole download run reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

STATUSES = ("ok", "cached", "blank", "failed")


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
    failures: list[dict] = field(default_factory=list)  # objid, row_index, status, origin, error

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
                    "objid": result.objid,
                    "row_index": int(result.row_index),
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
