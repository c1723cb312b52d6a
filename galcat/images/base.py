"""The pixel-source interface and the shared logic of URL-based cutout services.

Every source answers ``source.fetch(row_index, row) -> FetchResult`` for one catalogue row, so
the store builder never cares whether pixels came from SkyServer, hips2fits or a folder on disk.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from typing import Any, Protocol, runtime_checkable

import numpy as np

from galcat.errors import GalcatError
from galcat.images.result import FetchResult
from galcat.images.validate import InvalidPayload, decode_image, is_blank, sha256_hex
from galcat.net import DiskCache, HttpClient, HttpConfig, RequestFailed, cache_key, open_cache
from galcat.tables import clean_text

_LOCK_STRIPES = 1024


@runtime_checkable
class PixelSource(Protocol):
    name: str

    def fetch(self, row_index: int, row: Any) -> FetchResult: ...


def row_value(row: Any, column: str) -> Any:
    """``row[column]`` for an astropy Row or a mapping; None when absent or masked."""
    try:
        value = row[column]
    except (KeyError, IndexError, ValueError):
        return None
    if value is np.ma.masked or (isinstance(value, np.ma.MaskedArray) and value.mask.all()):
        return None
    return value


def row_objid(row_index: int, row: Any) -> str:
    value = row_value(row, "objid")
    return clean_text(value) if value is not None else str(row_index)


BLANK_MESSAGE = "near-constant image (blank: outside the survey footprint or a placeholder)"


def classify(image: np.ndarray, status: str) -> tuple[str, np.ndarray | None, str]:
    """``(status, image, error)``; a near-constant image becomes ``('blank', None, reason)``."""
    if is_blank(image):
        return "blank", None, BLANK_MESSAGE
    return status, image, ""


class UrlSource:
    """A cutout service reached by one GET per row, cached on disk and validated."""

    name = "url"

    def __init__(
        self,
        pixels: int,
        scale: float,
        cache: DiskCache | str | os.PathLike | bool | None = True,
        http: HttpConfig | None = None,
        client: HttpClient | None = None,
    ):
        if int(pixels) < 1:
            raise GalcatError(f"cutout size must be positive, got {pixels}")
        if float(scale) <= 0:
            raise GalcatError(f"scale must be positive arcsec/pixel, got {scale}")
        self.pixels = int(pixels)
        self.scale = float(scale)
        self.cache = open_cache(cache)
        self.client = client or HttpClient(http, service=self.name)
        # rows at the same position share one download: the second waits, then reads the cache
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    @property
    def expected_size(self) -> tuple[int, int]:
        return (self.pixels, self.pixels)

    def coordinates(self, row_index: int, row: Any) -> tuple[float, float]:
        ra, dec = row_value(row, "ra"), row_value(row, "dec")
        if ra is None or dec is None:
            raise GalcatError(f"row {row_index} (objid {row_objid(row_index, row)}): ra/dec unknown (masked)")
        ra, dec = float(ra), float(dec)
        if not (np.isfinite(ra) and np.isfinite(dec) and -90.0 <= dec <= 90.0):
            raise GalcatError(
                f"row {row_index} (objid {row_objid(row_index, row)}): ra/dec invalid ({ra}, {dec})"
            )
        return ra % 360.0, dec

    def fetch(self, row_index: int, row: Any) -> FetchResult:
        objid = row_objid(row_index, row)
        try:
            url = self.url_for_row(row_index, row)
        except GalcatError as exc:
            return FetchResult(objid, row_index, "failed", error=str(exc))
        if self.cache is None:
            return self._fetch_url(objid, row_index, url)
        with self._locks[int(cache_key(url)[:8], 16) % _LOCK_STRIPES]:
            return self._fetch_url(objid, row_index, url)

    def _fetch_url(self, objid: str, row_index: int, url: str) -> FetchResult:
        validate = partial(decode_image, expected_size=self.expected_size)
        data = self.cache.get(url) if self.cache is not None else None
        if data is not None:
            try:
                status, image, error = classify(validate(data), "cached")
                return FetchResult(objid, row_index, status, image, sha256_hex(data), url, error)
            except InvalidPayload:
                pass  # a damaged cache entry: download again and overwrite it
        try:
            download = self.client.get(url, validate)
        except RequestFailed as exc:
            return FetchResult(objid, row_index, "failed", origin=url, error=str(exc), attempts=exc.attempts)
        if self.cache is not None:
            self.cache.put(url, download.data)
        status, image, error = classify(download.value, "ok")
        return FetchResult(
            objid, row_index, status, image, sha256_hex(download.data), url, error, download.attempts
        )

    def url_for_row(self, row_index: int, row: Any) -> str:
        ra, dec = self.coordinates(row_index, row)
        return self.url_for_position(ra, dec)

    def url_for_position(self, ra: float, dec: float) -> str:  # pragma: no cover - abstract
        raise NotImplementedError
