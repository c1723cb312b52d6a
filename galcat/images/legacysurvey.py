"""Legacy Surveys viewer cutouts (DESI imaging, deeper than SDSS): ``/viewer/cutout.jpg``."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from galcat.errors import GalcatError
from galcat.images.base import UrlSource
from galcat.net import DiskCache, HttpClient, HttpConfig

LEGACY_NATIVE_SCALE = 0.262  # arcsec / pixel
LEGACY_MAX_PIXELS = 512  # about the largest side the viewer's cutout service serves


class LegacySurveySource(UrlSource):
    """``{base}/viewer/cutout.jpg?ra=&dec=&layer=ls-dr10&pixscale=0.262&size=``."""

    name = "legacysurvey"

    def __init__(
        self,
        base_url: str = "https://www.legacysurvey.org",
        layer: str = "ls-dr10",
        scale: float = LEGACY_NATIVE_SCALE,
        pixels: int = 256,
        cache: DiskCache | str | os.PathLike | bool | None = True,
        http: HttpConfig | None = None,
        client: HttpClient | None = None,
    ):
        if not 1 <= int(pixels) <= LEGACY_MAX_PIXELS:
            raise GalcatError(f"Legacy Surveys cutouts must be 1..{LEGACY_MAX_PIXELS} px wide, got {pixels}")
        super().__init__(pixels, scale, cache=cache, http=http, client=client)
        self.base_url = base_url.rstrip("/")
        self.layer = layer

    def url_for_position(self, ra: float, dec: float) -> str:
        params = [
            ("ra", f"{ra:.6f}"),
            ("dec", f"{dec:.6f}"),
            ("layer", self.layer),
            ("pixscale", f"{self.scale:g}"),
            ("size", str(self.pixels)),
        ]
        return f"{self.base_url}/viewer/cutout.jpg?{urlencode(params)}"

    def __repr__(self) -> str:
        return (
            f"LegacySurveySource({self.base_url!r}, layer={self.layer!r}, "
            f"scale={self.scale}, pixels={self.pixels})"
        )
