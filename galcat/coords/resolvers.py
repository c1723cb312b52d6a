"""Name resolvers by spec: ``get_resolver(spec).resolve(names) -> Table``.

Specs: ``'openngc:PATH'`` (offline, PATH = folder with NGC.csv [+ addendum.csv] or NGC.csv itself),
``'simbad'`` and ``'sesame'`` (remote, cached on disk). The resolvers import only the base class
(galcat.coords.resolve), so this factory is the one module that knows them all.
"""

from __future__ import annotations

from pathlib import Path

from galcat.coords.resolve import Resolver
from galcat.errors import GalcatError


def get_resolver(spec: str, **kwargs) -> Resolver:
    """Build a resolver from ``'simbad'``, ``'sesame'`` or ``'openngc:PATH'``; kwargs go to it."""
    kind, _, arg = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind == "openngc":
        from galcat.coords.openngc import OpenNGCResolver

        if not arg:
            raise GalcatError("resolver 'openngc' needs a path: openngc:/path/to/OpenNGC")
        return OpenNGCResolver(Path(arg), **kwargs)
    if kind == "simbad":
        from galcat.coords.remote import SimbadResolver

        return SimbadResolver(**kwargs)
    if kind == "sesame":
        from galcat.coords.remote import SesameResolver

        return SesameResolver(**kwargs)
    raise GalcatError(f"unknown resolver {spec!r}; use 'simbad', 'sesame' or 'openngc:PATH'")
