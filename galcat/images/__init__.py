"""Pixel sources: SDSS SkyServer ImgCutout, CDS hips2fits, Legacy Surveys and local archives.

One interface, ``source.fetch(row_index, row) -> FetchResult``, and one runner,
:func:`fetch_many`, with retries, a content-addressed disk cache and payload validation, so
the store builder gets only decoded, non-blank images and a list of what failed.
"""

from galcat.errors import NetworkError
from galcat.images.base import PixelSource, UrlSource
from galcat.images.factory import SERVICES, make_source, source_settings
from galcat.images.fetch import FetchRun, fetch_all, fetch_many, write_fetch_report
from galcat.images.hips2fits import Hips2FitsSource
from galcat.images.legacysurvey import LegacySurveySource
from galcat.images.local import LocalArchiveSource
from galcat.images.result import FetchResult, FetchSummary
from galcat.images.skyserver import SkyServerSource
from galcat.images.validate import InvalidPayload, decode_image, is_blank
from galcat.net import DiskCache, HttpClient, HttpConfig, RequestFailed, canonical_url

__all__ = [
    "SERVICES",
    "make_source",
    "source_settings",
    "DiskCache",
    "FetchResult",
    "FetchRun",
    "FetchSummary",
    "Hips2FitsSource",
    "HttpClient",
    "HttpConfig",
    "InvalidPayload",
    "LegacySurveySource",
    "LocalArchiveSource",
    "NetworkError",
    "PixelSource",
    "RequestFailed",
    "SkyServerSource",
    "UrlSource",
    "canonical_url",
    "decode_image",
    "fetch_all",
    "fetch_many",
    "is_blank",
    "write_fetch_report",
]
