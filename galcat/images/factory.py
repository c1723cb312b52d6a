"""One factory for pixel sources, so every command that fetches images offers the same choices.

``make_source`` returns a local archive when an image folder is given, else the named cutout
service with only the options the caller set (each service keeps its own defaults), and
:func:`source_settings` reports the values a source actually uses, for the store's config.
"""

from __future__ import annotations

import os

from galcat.errors import GalcatError
from galcat.images.base import PixelSource
from galcat.images.hips2fits import Hips2FitsSource
from galcat.images.legacysurvey import LegacySurveySource
from galcat.images.local import LocalArchiveSource
from galcat.images.skyserver import SkyServerSource
from galcat.net import HttpConfig

#: cutout services by name; the first is the default
SERVICES = {
    "skyserver": SkyServerSource,
    "hips2fits": Hips2FitsSource,
    "legacysurvey": LegacySurveySource,
}
DEFAULT_SERVICE = "skyserver"
#: the keyword each service uses for its server URL
_URL_KEYWORD = {"skyserver": "base_url", "hips2fits": "server", "legacysurvey": "base_url"}


def make_source(
    service: str | None = None,
    images: str | os.PathLike | None = None,
    *,
    image_key: str = "objid",
    image_pattern: str = "{key}",
    release: int | None = None,
    scale: float | None = None,
    pixels: int | None = None,
    base_url: str | None = None,
    http: HttpConfig | None = None,
) -> PixelSource:
    """A :class:`LocalArchiveSource` of ``images`` (files named ``image_pattern`` of the
    ``image_key`` column, e.g. ``"{key}_tgt"``), or a cutout service.

    ``service``: one of :data:`SERVICES` (default skyserver); ``release`` is SkyServer's SDSS data
    release and an error for the others. Options left as None keep the service's defaults.
    """
    if images is not None:
        return LocalArchiveSource(images, pattern=image_pattern, key=image_key)
    service = service or DEFAULT_SERVICE
    if service not in SERVICES:
        raise GalcatError(f"--service {service!r}: use one of {', '.join(SERVICES)}")
    if release is not None and service != "skyserver":
        raise GalcatError(f"--release applies to --service skyserver, not {service}")
    options = {
        "release": release,
        "scale": scale,
        "pixels": pixels,
        "http": http,
        _URL_KEYWORD[service]: base_url,
    }
    return SERVICES[service](**{k: v for k, v in options.items() if v is not None})


def source_settings(source: PixelSource) -> dict:
    """``release``/``scale``/``pixels`` the source uses (defaults included) and its description."""
    if isinstance(source, LocalArchiveSource):
        return {"release": None, "scale": None, "pixels": None, "source_options": {}}
    return {
        "release": getattr(source, "release", None),
        "scale": getattr(source, "scale", None),
        "pixels": getattr(source, "pixels", None),
        "source_options": {"source": repr(source)},
    }
