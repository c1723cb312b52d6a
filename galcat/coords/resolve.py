"""The name-resolver interface: ``Resolver.resolve(names) -> Table``, and its standard table.

The resolvers (galcat.coords.openngc, galcat.coords.remote) subclass :class:`Resolver`;
:func:`galcat.coords.resolvers.get_resolver` builds one from a spec. Every resolver returns the same table:
``name`` (as given), ``ra``/``dec`` (ICRS deg, masked when not found), ``pgc`` (masked int),
``main_id`` (the identifier that matched) and ``source``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from astropy import units as u
from astropy.table import MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.tables import annotate_position_columns


class Resolver:
    """Base class: subclasses implement :meth:`_lookup` for a list of unique names."""

    name = "resolver"

    def resolve(self, names: Iterable[str]) -> Table:
        """Resolve ``names``; the output rows follow the input order, duplicates included."""
        names = [str(n) for n in names]
        if any(not n.strip() for n in names):
            raise GalcatError(
                f"{self.name}: empty object name at position {[n.strip() for n in names].index('')}"
            )
        unique = list(dict.fromkeys(names))
        found = self._lookup(unique) if unique else {}
        rows = [found.get(n) for n in names]
        return make_result_table(names, rows)

    def _lookup(self, names: Sequence[str]) -> dict[str, tuple]:
        """Map name -> (ra, dec, pgc or None, main_id, source); names not found are left out."""
        raise NotImplementedError


def make_result_table(names: Sequence[str], rows: Sequence[tuple | None]) -> Table:
    """The standard resolver table from per-name ``(ra, dec, pgc, main_id, source)`` or None."""
    n = len(names)
    ra = np.full(n, np.nan)
    dec = np.full(n, np.nan)
    pgc = np.zeros(n, dtype=np.int64)
    pgc_mask = np.ones(n, dtype=bool)
    main_id = [""] * n
    source = [""] * n
    for i, row in enumerate(rows):
        if row is None:
            continue
        ra[i], dec[i] = row[0], row[1]
        if row[2] is not None:
            pgc[i], pgc_mask[i] = row[2], False
        main_id[i], source[i] = row[3], row[4]
    missing = ~np.isfinite(ra) | ~np.isfinite(dec)
    table = Table()
    table["name"] = np.array(names, dtype=str) if n else np.array([], dtype="U1")
    table["ra"] = MaskedColumn(ra, mask=missing, unit=u.deg, description="Right ascension (ICRS)")
    table["dec"] = MaskedColumn(dec, mask=missing, unit=u.deg, description="Declination (ICRS)")
    annotate_position_columns(table)
    table["pgc"] = MaskedColumn(pgc, mask=pgc_mask, description="PGC (HyperLeda) number")
    table["main_id"] = np.array(main_id, dtype=str) if n else np.array([], dtype="U1")
    table["source"] = np.array(source, dtype=str) if n else np.array([], dtype="U1")
    return table
