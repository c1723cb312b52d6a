"""SAMP round trip with a real TOPCAT: our hub on loopback, TOPCAT under Xvfb, tables sent by galcat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from helpers.cli import invoke

from galcat.errors import GalcatError
from galcat.outputs.columns import annotate_outputs
from galcat.outputs.samp import send_table
from galcat.tables import write_table


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
    lines = result.stderr.splitlines()  # the table is the result: written, then one line about SAMP
    assert result.exit_code == 0 and (tmp_path / "b.fits").exists(), result.output
    assert len(lines) == 1 and lines[0].startswith("galcat: warning:")
    assert "no SAMP hub is running" in lines[0]
