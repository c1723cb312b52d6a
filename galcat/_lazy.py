"""Lazy package exports: heavy submodules (torch, xarray, image sources) load on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module path) when first asked."""

    def __getattr__(attr: str):
        if attr in names:
            return getattr(importlib.import_module(names[attr]), attr)
        raise AttributeError(f"module {package!r} has no attribute {attr!r}")

    return __getattr__


def lazy_dir(namespace: dict, names) -> Callable[[], list[str]]:
    """A module ``__dir__`` listing the lazy ``names`` beside the module's own (for ``dir()`` and
    tab completion, which do not see names that ``__getattr__`` would import)."""

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __dir__
