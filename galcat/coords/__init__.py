"""Positions and identities: name normalisation, name resolvers, B1950 -> ICRS, cross-matching."""

from galcat.coords.crossmatch import (
    crossmatch,
    crossmatch_ids,
    crossmatch_sky,
    exclude_overlap,
    parse_radius,
)
from galcat.coords.frames import b1950_to_icrs, parse_sexagesimal
from galcat.coords.names import normalise_name, parse_pgc, pgc_name
from galcat.coords.resolve import Resolver
from galcat.coords.resolvers import get_resolver

__all__ = [
    "Resolver",
    "b1950_to_icrs",
    "crossmatch",
    "crossmatch_ids",
    "crossmatch_sky",
    "exclude_overlap",
    "get_resolver",
    "normalise_name",
    "parse_pgc",
    "parse_radius",
    "parse_sexagesimal",
    "pgc_name",
]
