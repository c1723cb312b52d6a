"""galcat.cli.demo: options -> DemoConfig, and the three summary prints."""

from __future__ import annotations

import json

from helpers.cli import invoke

from galcat.demo import DemoConfig


def test_config_and_printed_summary(api, tmp_path):
    summary = {
        "metrics_on_unseen": {"accuracy": 0.5},
        "catalogue": "demo/c.fits",
        "catalogue_columns": ["a", "b"],
        "timings_s": {"total_s": 12.5},
        "explorer": "demo/explore/index.html",
    }
    calls = api("galcat.demo", "run_demo", summary)
    result = invoke("demo", "--out", tmp_path / "d", "--ce-epochs", 1)
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == DemoConfig(out=str(tmp_path / "d"), ce_epochs=1)
    out = result.stdout
    assert json.loads(out[: out.index("}") + 1]) == {"accuracy": 0.5}
    assert "catalogue: demo/c.fits  (2 columns)" in out and "total time: 12.5 s" in out
    assert out.splitlines()[-1] == "open this first, in a browser: demo/explore/index.html"
