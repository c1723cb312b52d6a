"""A browser view of a classified catalogue: a static site (``galcat explore``) and a localhost server.

The site is plain files (HTML, one script and one style shipped in ``assets/``, the data as a
script, JPEG sprite sheets), so it opens from ``file://`` where browsers refuse ``fetch()``.
"""

from galcat._lazy import lazy_exports

_LAZY = {
    "ExploreConfig": "galcat.explore.site",
    "write_site": "galcat.explore.site",
    "serve_site": "galcat.explore.serve",
}

__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = list(_LAZY)
