"""Fixtures for the CLI modules' own tests: the API call a command makes, replaced and recorded."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest


@pytest.fixture
def api(monkeypatch):
    """``api("galcat.model", "train", result)``: the command's call of ``galcat.model.train`` records
    its arguments in the returned list and gets ``result`` (or ``result(*args)`` when callable)."""

    def replace(module: str, name: str, result=None):
        calls: list = []

        def fake(*args, **kwargs):
            calls.append(SimpleNamespace(args=args, kwargs=kwargs))
            return result(*args, **kwargs) if callable(result) else result

        monkeypatch.setattr(importlib.import_module(module), name, fake)
        return calls

    return replace
