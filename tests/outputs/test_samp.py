"""SAMP round trip with a real TOPCAT: our hub on loopback, TOPCAT under Xvfb, tables sent by galcat."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from helpers.cli import invoke

from galcat.errors import GalcatError
from galcat.outputs.columns import annotate_outputs
from galcat.outputs.samp import MTYPE, _samp, send_table
from galcat.tables import write_table

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


@pytest.fixture(scope="module")
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


@pytest.fixture()
def annotated_fits(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    n = 12
    table = Table(
        {"objid": [f"G{i}" for i in range(n)], "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-60, 60, n)}
    )
    out = annotate_outputs(
        table, rng.normal(size=(n, 16)), rng.dirichlet(np.ones(3), n), ["E", "S0", "Sa"], "hubble9"
    )
    return write_table(out, tmp_path / "embedded.fits")


@pytest.mark.timeout(300)
def test_topcat_loads_the_table_and_answers_ok(topcat_hub, annotated_fits, monkeypatch):
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{topcat_hub.as_uri()}")
    responses = send_table(annotated_fits, name="embedded", timeout=60)
    assert responses, "no SAMP client answered"
    assert all(r["samp.status"] == "samp.ok" for r in responses.values()), responses


@pytest.mark.timeout(300)
def test_topcat_rejects_a_broken_votable(topcat_hub, tmp_path, monkeypatch):
    """TOPCAT really parses what it is sent: a broken file comes back as a clear galcat error."""
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{topcat_hub.as_uri()}")
    broken = tmp_path / "broken.vot"
    broken.write_text("<VOTABLE><RESOURCE><TABLE><FIELD name='a' datatype='nonsense'/>")
    with pytest.raises(GalcatError, match="could not load the table"):
        send_table(broken, timeout=60)


def test_no_hub_is_a_clear_error(tmp_path, monkeypatch, annotated_fits):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'missing.lock').as_uri()}")
    with pytest.raises(GalcatError, match="no SAMP hub is running"):
        send_table(annotated_fits, timeout=5)


@pytest.mark.timeout(300)
def test_galcat_embed_samp_sends_to_topcat(topcat_hub, tiny, tmp_path, monkeypatch):
    """The user's path: `galcat embed --samp` writes the catalogue and TOPCAT accepts it."""
    run, store = tiny
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{topcat_hub.as_uri()}")
    out = tmp_path / "embedded.fits"
    result = invoke("embed", "--model", run, "--store", store, "--reference", store, "--out", out, "--samp")
    assert result.exit_code == 0, result.output
    assert "sent" in result.output and out.exists()
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'no-hub.lock').as_uri()}")
    result = invoke("embed", "--model", run, "--store", store, "--out", tmp_path / "b.fits", "--samp")
    assert result.exit_code == 2 and "no SAMP hub is running" in result.output
    assert not (tmp_path / "b.fits").exists()  # checked before the (long) embedding run
