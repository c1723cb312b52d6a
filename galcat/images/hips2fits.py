"""CDS hips2fits: a cutout from any HiPS survey (default SDSS9 colour) as a JPEG.

A plain GET through :class:`galcat.net.HttpClient` rather than ``astroquery.hips2fits``, because
astroquery never caches hips2fits answers and validates no payload.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

from galcat.errors import GalcatError
from galcat.images.base import UrlSource
from galcat.net import DiskCache, HttpClient, HttpConfig

HIPS2FITS_SERVER = "https://alasky.cds.unistra.fr/hips-image-services/hips2fits"


class Hips2FitsSource(UrlSource):
    """``{server}?hips=&width=&height=&projection=TAN&coordsys=icrs&ra=&dec=&fov=&format=jpg``.

    ``fov`` is the full width in degrees: ``pixels * scale / 3600``.
    """

    name = "hips2fits"

    def __init__(
        self,
        server: str = HIPS2FITS_SERVER,
        hips: str = "CDS/P/SDSS9/color",
        pixels: int = 424,
        scale: float = 0.396,
        image_format: str = "jpg",
        cache: DiskCache | str | os.PathLike | bool | None = True,
        http: HttpConfig | None = None,
        client: HttpClient | None = None,
    ):
        if image_format not in ("jpg", "png"):
            raise GalcatError(f"hips2fits image_format must be 'jpg' or 'png', got {image_format!r}")
        super().__init__(pixels, scale, cache=cache, http=http, client=client)
        self.server = server.rstrip("/")
        self.hips = hips
        self.image_format = image_format

    @property
    def fov_deg(self) -> float:
        return self.pixels * self.scale / 3600.0

    def url_for_position(self, ra: float, dec: float) -> str:
        params = [
            ("hips", self.hips),
            ("width", str(self.pixels)),
            ("height", str(self.pixels)),
            ("projection", "TAN"),
            ("coordsys", "icrs"),
            ("rotation_angle", "0.0"),
            ("ra", f"{ra:.6f}"),
            ("dec", f"{dec:.6f}"),
            ("fov", f"{self.fov_deg:.8g}"),
            ("format", self.image_format),
        ]
        return f"{self.server}?{urlencode(params)}"

    def __repr__(self) -> str:
        return (
            f"Hips2FitsSource({self.server!r}, hips={self.hips!r}, pixels={self.pixels}, scale={self.scale})"
        )
