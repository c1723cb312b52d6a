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
import signal
import subprocess
import time
import warnings
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
            schedule="plateau", balance="none",  # 2 steps: a constant rate learns, OneCycle barely starts
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


# ---- a real TOPCAT on a private SAMP hub (embed, classify and the README's --samp line) ----
TOPCAT_START_S = 120  # JVM start is ~5-20 s; generous but bounded


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop a process started here in its own session, with its children (TOPCAT's java)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=15)


def _start_xvfb(xvfb: str) -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display chosen by the server itself (-displayfd)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    if not number:
        _kill_group(proc)
        pytest.fail("Xvfb did not report a display number")
    return proc, f":{number}"


@pytest.fixture(scope="session")
def topcat_hub(tmp_path_factory, require_tool):
    """A SAMP hub (web profile off, loopback) with a real TOPCAT registered on it; yields the lockfile."""
    topcat, xvfb = require_tool("topcat"), require_tool("Xvfb")
    from galcat.outputs.samp import MTYPE, _samp

    samp = _samp()
    home = tmp_path_factory.mktemp("samp-home")
    lockfile = home / "hub.lock"
    hub = samp.SAMPHubServer(web_profile=False, lockfile=str(lockfile), addr="127.0.0.1")
    hub.start()
    xvfb_proc, display = _start_xvfb(xvfb)
    env = dict(os.environ, DISPLAY=display, HOME=str(home), SAMP_HUB=f"std-lockurl:{lockfile.as_uri()}")
    log = open(home / "topcat.log", "w")  # noqa: SIM115 - closed in the finaliser below
    topcat_proc = subprocess.Popen(
        [topcat, "-Xmx256M", "-samp", "-nohub"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    probe = samp.SAMPIntegratedClient(name="galcat-test-probe", callable=False)
    try:
        _connect(probe, lockfile)
        deadline = time.monotonic() + TOPCAT_START_S
        while not probe.get_subscribed_clients(MTYPE):
            if topcat_proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"TOPCAT did not register on the hub: {(home / 'topcat.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        names = [probe.get_metadata(c).get("samp.name") for c in probe.get_subscribed_clients(MTYPE)]
        assert "topcat" in [str(n).lower() for n in names], names
        probe.disconnect()
        yield lockfile
    finally:
        _kill_group(topcat_proc)
        _kill_group(xvfb_proc)
        log.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hub.stop()


def _connect(client, lockfile: Path) -> None:
    old = os.environ.get("SAMP_HUB")
    os.environ["SAMP_HUB"] = f"std-lockurl:{lockfile.as_uri()}"
    try:
        client.connect()
    finally:
        if old is None:
            del os.environ["SAMP_HUB"]
        else:
            os.environ["SAMP_HUB"] = old
