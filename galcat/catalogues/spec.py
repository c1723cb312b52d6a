"""Declarative catalogue specs (``galcat/catalogues/specs/<name>.toml``): rows' source and labels.

A spec holds the source (local file name, delimiter, VizieR id, URL), the column map onto the
standard columns, the id pattern, the label rule with its parameters, default cutout settings
and the citation, so a reader's behaviour is visible without reading its code. The specs ship
inside the package (package data, read with :mod:`importlib.resources`), so an installed wheel
reads them wherever it runs; ``$GALCAT_CATALOGUE_SPECS`` names another folder to use instead.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from galcat.errors import GalcatError

CATALOGUE_NAMES = ("efigi", "rsa", "gz2", "folder", "targets")
_REQUIRED = ("name", "citation", "source", "columns", "id", "label")


def spec_dir():
    """``$GALCAT_CATALOGUE_SPECS``, else the package's ``specs`` folder (a Traversable)."""
    env = os.environ.get("GALCAT_CATALOGUE_SPECS")
    return Path(env) if env else resources.files("galcat.catalogues") / "specs"


@dataclass(frozen=True)
class CatalogueSpec:
    name: str
    citation: str
    source: dict
    columns: dict
    id: dict
    label: dict
    cutout: dict = field(default_factory=dict)
    title: str = ""
    url: str = ""
    path: Path | None = None

    def table_meta(self, source, **more) -> dict:
        """The meta every reader's table starts with: catalogue name, citation, source, cutout."""
        meta = {"catalogue": self.name, "citation": self.citation, "source": str(source)}
        return {**meta, "cutout": dict(self.cutout), **more}

    def candidates(self, key: str) -> list[str]:
        """Column-name candidates for a standard field (a string or a list in the TOML)."""
        value = self.columns.get(key, [])
        return [value] if isinstance(value, str) else list(value)


def load_spec(name: str) -> CatalogueSpec:
    """Read and check the spec ``<name>.toml``; a broken spec is a GalcatError naming the key."""
    path = spec_dir() / f"{name}.toml"
    if not path.is_file():
        raise GalcatError(f"{path}: no catalogue spec {name!r}; known: {', '.join(CATALOGUE_NAMES)}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GalcatError(f"{path}: invalid TOML: {exc}") from None
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise GalcatError(f"{path}: spec is missing key(s) {missing}")
    known = set(CatalogueSpec.__dataclass_fields__) - {"path"}
    return CatalogueSpec(**{k: v for k, v in data.items() if k in known}, path=Path(str(path)))
