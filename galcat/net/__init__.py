"""The network layer every service goes through, and galcat's one cache root.

* :class:`Session` - a ``requests.Session`` with urllib3 ``Retry`` (backoff with jitter,
  429/5xx, ``Retry-After`` capped), plus body validation with retries, a body deadline and a
  size cap; usable as the session of astroquery and pyvo clients.
* :class:`HttpClient` - one such session per thread, for the cutout thread pools.
* :func:`host_limiter` - per-host rate limits shared by the whole process.
* :func:`cache_root` / :func:`cache_dir` - ``$GALCAT_CACHE_DIR`` (default ``~/.cache/galcat``)
  and its sub-folders (:data:`CACHE_FOLDERS`); :class:`DiskCache` for raw payloads.
"""

from galcat.net.cache import (
    CACHE_FOLDERS,
    DiskCache,
    cache_dir,
    cache_key,
    cache_root,
    canonical_url,
    open_cache,
)
from galcat.net.client import HttpClient
from galcat.net.ratelimit import LimiterRegistry, RateLimiter, host_limiter
from galcat.net.session import (
    Download,
    GalcatRetry,
    HttpConfig,
    InvalidBody,
    RequestFailed,
    Session,
    make_retry,
)

__all__ = [
    "CACHE_FOLDERS",
    "DiskCache",
    "Download",
    "GalcatRetry",
    "HttpClient",
    "HttpConfig",
    "InvalidBody",
    "LimiterRegistry",
    "RateLimiter",
    "RequestFailed",
    "Session",
    "cache_dir",
    "cache_key",
    "cache_root",
    "canonical_url",
    "host_limiter",
    "make_retry",
    "open_cache",
]
