"""galcat.cli.embed: `embed` options -> EmbedConfig and its columns line; `neighbours` options and rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from astropy.table import Table
from helpers.cli import invoke

from galcat.outputs.embed import EmbedConfig
from galcat.outputs.neighbours import NeighboursConfig


def test_embed_config_and_columns_line(api, tmp_path):
    table = Table(
        {"objid": ["a"], "ra": [1.0], "embedding": [[0.0, 1.0]], "pred_hubble9": ["E"], "knn_hubble9": ["E"]}
    )
    calls = api("galcat.outputs.embed", "embed_catalogue", table)
    out = tmp_path / "e.fits"
    result = invoke("embed", "--model", "runs/x", "--store", "s.h5", "--out", out, "--no-calibrate", "--k", 5)
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == EmbedConfig(model="runs/x", store="s.h5", out=str(out), k=5, calibrate=False)
    assert result.stdout.strip() == f"wrote {out} (1 rows; columns embedding, pred_hubble9, knn_hubble9)"


def test_neighbours_config_and_ranked_rows(api, tmp_path):
    query = SimpleNamespace(how="name", separation_arcsec=1.25, objid="NGC1")
    found = SimpleNamespace(
        query=query, query_label="Sa", objids=["b", "c"], labels=["Sa", "E"], distances=np.array([0.1, 0.25])
    )
    calls = api("galcat.outputs.neighbours", "find_neighbours", found)
    result = invoke("neighbours", "--model", "runs/x", "--index", "s.h5", "--query", "NGC 1", "--radius", 3)
    assert result.exit_code == 0, result.output
    cfg = calls[0].args[0]
    assert cfg == NeighboursConfig(
        model="runs/x", index="s.h5", query="NGC 1", out="neighbours.png", radius_arcsec=3.0
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "query NGC1 (Sa; found by name, 1.2 arcsec)"
    assert lines[1].split() == ["1", "b", "Sa", "0.1000"] and lines[-1] == "wrote neighbours.png"
