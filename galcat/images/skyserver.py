"""SDSS SkyServer ``ImgCutout/getjpeg``: gri colour JPEG cutouts (the GZ2 image recipe)."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from galcat.errors import GalcatError
from galcat.images.base import UrlSource
from galcat.net import DiskCache, HttpClient, HttpConfig

SDSS_NATIVE_SCALE = 0.396127  # arcsec / pixel


class SkyServerSource(UrlSource):
    """``{base}/dr{N}/SkyServerWS/ImgCutout/getjpeg?ra=&dec=&scale=&width=&height=``.

    Outside the SDSS footprint SkyServer answers a blank image with HTTP 200; those come back
    with status 'blank'.
    """

    name = "skyserver"

    def __init__(
        self,
        base_url: str = "https://skyserver.sdss.org",
        release: int = 17,
        scale: float = 0.396,
        pixels: int = 424,
        opt: str = "",
        cache: DiskCache | str | os.PathLike | bool | None = True,
        http: HttpConfig | None = None,
        client: HttpClient | None = None,
    ):
        if not 64 <= int(pixels) <= 2048:
            raise GalcatError(f"SkyServer cutouts must be 64..2048 px wide, got {pixels}")
        super().__init__(pixels, scale, cache=cache, http=http, client=client)
        self.base_url = base_url.rstrip("/")
        self.release = int(release)
        self.opt = opt

    def url_for_position(self, ra: float, dec: float) -> str:
        params = [
            ("ra", f"{ra:.6f}"),
            ("dec", f"{dec:.6f}"),
            ("scale", f"{self.scale:g}"),
            ("width", str(self.pixels)),
            ("height", str(self.pixels)),
        ]
        if self.opt:
            params.append(("opt", self.opt))
        return f"{self.base_url}/dr{self.release}/SkyServerWS/ImgCutout/getjpeg?{urlencode(params)}"

    def __repr__(self) -> str:
        return (
            f"SkyServerSource({self.base_url!r}, release={self.release}, "
            f"scale={self.scale}, pixels={self.pixels})"
        )
