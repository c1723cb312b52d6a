"""Shared fixtures: the real data in ../shared/data, external tools, tmp stores.

Tests that need real data find it through ``GALCAT_TEST_DATA`` (default ``../shared/data``
beside the checkout). They skip cleanly when it is absent, except under
``GALCAT_REQUIRE_TEST_DATA=1`` (set by ``.ci/run``), where absence is a failure.
The same policy applies to external tools (fitsverify, stilts, topcat, Xvfb): skip on a
developer machine without them, fail under CI (``CI=true`` or ``GALCAT_REQUIRE_TOOLS=1``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "2")


def _data_root() -> Path:
    return Path(os.environ.get("GALCAT_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


def _required(var: str) -> bool:
    return os.environ.get(var, "") not in ("", "0", "false", "False")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real data folder; skip (or fail under CI) when it is missing."""
    root = _data_root()
    if not (root / "README.md").exists():
        msg = f"real test data not found at {root} (set GALCAT_TEST_DATA)"
        if _required("GALCAT_REQUIRE_TEST_DATA"):
            pytest.fail(msg)
        pytest.skip(msg)
    return root


@pytest.fixture(scope="session")
def require_tool():
    """``require_tool('stilts')`` returns the executable path, or skips (fails under CI)."""

    def _require(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            msg = f"external tool {name!r} is not installed"
            if _required("CI") or _required("GALCAT_REQUIRE_TOOLS"):
                pytest.fail(msg + " (CI installs it in .ci/run)")
            pytest.skip(msg)
        return path

    return _require


def _tiny_run(tmp_path_factory, name: str, folds: int, seed: int):
    """A real resnet18 'ce' run at 32 px, 1 epoch, on 6 synthetic galaxies of each Hubble class."""
    from galcat.model import TrainConfig, train
    from galcat.schemes import HUBBLE9
    from galcat.synth import make_synthetic_store

    base = tmp_path_factory.mktemp(name)
    run, store = base / "run", base / "synth.h5"
    make_synthetic_store(store, HUBBLE9, n_per_class=6, size=32, seed=seed, overwrite=True)
    train(
        TrainConfig(
            store=str(store), stage="ce", out=str(run), arch="resnet18", image_size=32, folds=folds,
            epochs=1, batch_size=16, device="cpu", embedding_dim=16, progress=False,
        )
    )  # fmt: skip
    return run, store


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(run dir, synthetic store): a one-fold run, trained once per session."""
    return _tiny_run(tmp_path_factory, "galcat-tiny-run", folds=1, seed=0)


@pytest.fixture(autouse=True)
def _isolated_network_state(tmp_path_factory, monkeypatch):
    """Every test gets its own cache root and fresh per-host rate limiters (no state leaks)."""
    from galcat.net import LimiterRegistry, ratelimit

    monkeypatch.setenv("GALCAT_CACHE_DIR", str(tmp_path_factory.mktemp("galcat-cache")))
    monkeypatch.setattr(ratelimit, "LIMITERS", LimiterRegistry())


@pytest.fixture
def fake_clock(monkeypatch):
    """Rate limiters of this test run on a :class:`helpers.clock.FakeClock` (no real waiting)."""
    from helpers.clock import FakeClock

    from galcat.net import LimiterRegistry, ratelimit

    clock = FakeClock()
    monkeypatch.setattr(ratelimit, "LIMITERS", LimiterRegistry(clock=clock.now, sleep=clock.sleep))
    return clock


@pytest.fixture(scope="session")
def tiny_folds(tmp_path_factory):
    """(run dir, synthetic store): like ``tiny`` but with 2 folds, for the fold ensemble."""
    return _tiny_run(tmp_path_factory, "galcat-tiny-folds", folds=2, seed=1)
