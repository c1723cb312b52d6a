"""galcat's one cache root and the content-addressed payload cache, so a rebuild downloads nothing.

Everything galcat keeps between runs lives under :func:`cache_root` (``$GALCAT_CACHE_DIR``,
default ``~/.cache/galcat``), one sub-folder per kind (:data:`CACHE_FOLDERS`); deleting a
sub-folder only costs downloads or recomputation.

In :class:`DiskCache` the key is the sha256 of the canonical URL (query parameters sorted), the
value the exact bytes the service sent. Only validated payloads are stored (a cached error page
would poison every later build, astroquery#2252), and writes are atomic (temp file + rename) so
a killed build never leaves half a JPEG behind.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from galcat.atomic import atomic_write
from galcat.errors import GalcatError

CACHE_FOLDERS = {
    "cutouts": "raw image payloads of the cutout services, keyed by the sha256 of the URL",
    "names": "name resolutions per service (<service>_names.ecsv), misses included",
    "vizier": "whole VizieR catalogues (VOTable bytes), keyed by server and catalogue",
    "catalogues": "catalogue files downloaded from a URL (e.g. the GZ2 tables), keyed by URL",
    "index": "embedding indexes (k-NN) of reference stores",
    "models": "encoder weights from the Hugging Face hub (huggingface_hub's cache layout)",
}


def cache_root() -> Path:
    """``$GALCAT_CACHE_DIR``, or ``~/.cache/galcat``."""
    env = os.environ.get("GALCAT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "galcat"


def cache_dir(kind: str) -> Path:
    """The sub-folder of :func:`cache_root` for ``kind`` (one of :data:`CACHE_FOLDERS`)."""
    if kind not in CACHE_FOLDERS:
        raise ValueError(f"unknown cache folder {kind!r}; known: {', '.join(CACHE_FOLDERS)}")
    return cache_root() / kind


def canonical_url(url: str) -> str:
    """The URL with a lower-case scheme/host and sorted query parameters."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def cache_key(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()


class DiskCache:
    """``root/ab/abcdef...`` files holding raw bytes, keyed by the URL hash (default root: cutouts)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir("cutouts")

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
            return atomic_write(path, data, fsync=False)  # a lost entry is downloaded again
        except OSError as exc:
            raise GalcatError(f"{path}: cannot write the download cache: {exc}") from None

    def __contains__(self, url: str) -> bool:
        return self.path_for(url).exists()

    def __repr__(self) -> str:
        return f"DiskCache({str(self.root)!r})"


def open_cache(cache: DiskCache | str | os.PathLike | bool | None, kind: str = "cutouts") -> DiskCache | None:
    """``True`` -> ``cache_dir(kind)``, a path -> a cache there, ``None``/``False`` -> no cache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return DiskCache(cache_dir(kind))
    if isinstance(cache, DiskCache):
        return cache
    return DiskCache(cache)
