"""Fixtures of the output tests: a real TOPCAT on a private SAMP hub (used by embed and classify)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from galcat.outputs.samp import MTYPE, _samp

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
