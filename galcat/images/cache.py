"""Content-addressed disk cache of raw payloads, so a rebuild downloads nothing.

The key is the sha256 of the canonical URL (query parameters sorted), the value the exact bytes
the service sent. Only validated payloads are stored (a cached error page would poison every
later build, astroquery#2252), and writes are atomic (temp file + rename) so a killed build
never leaves half a JPEG behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from galcat.errors import GalcatError


def default_cache_dir() -> Path:
    """``$GALCAT_CACHE_DIR`` or ``~/.cache/galcat/cutouts``."""
    env = os.environ.get("GALCAT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "galcat" / "cutouts"


def canonical_url(url: str) -> str:
    """The URL with a lower-case scheme/host and sorted query parameters."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def cache_key(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()


class DiskCache:
    """``root/ab/abcdef...`` files holding raw bytes, keyed by the URL hash."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, url: str) -> Path:
        key = cache_key(url)
        return self.root / key[:2] / key

    def get(self, url: str) -> bytes | None:
        try:
            return self.path_for(url).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, url: str, data: bytes) -> Path:
        path = self.path_for(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        except OSError as exc:
            raise GalcatError(f"{self.root}: cannot write the download cache: {exc}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise GalcatError(f"{path}: cannot write the download cache: {exc}") from None
            raise
        return path

    def __contains__(self, url: str) -> bool:
        return self.path_for(url).exists()

    def __repr__(self) -> str:
        return f"DiskCache({str(self.root)!r})"
