"""galcat.cli.probe: options -> ProbeConfig; metric lines in the report's format and the timing line."""

from __future__ import annotations

from helpers.cli import invoke

from galcat.experiments.probe import ProbeConfig


def test_config_and_printed_lines(api, tmp_path):
    metrics = {
        "summary": {
            "accuracy": {"mean": 0.625, "std": 0.0, "n_folds": 1},
            "map_at_r": {"mean": 0.5, "std": 0.0, "n_folds": 1},
        },
        "probe": {"features_s": 1.25, "features_cpu_s": 2.0, "head_s": 0.5, "head_cpu_s": 0.75},
    }
    calls = api("galcat.experiments.probe", "probe", metrics)
    result = invoke(
        "probe", "--model", "runs/x", "--store", "s.h5", "--test", "s.h5", "--head", "mlp", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == ProbeConfig(
        model="runs/x", store="s.h5", test="s.h5", head="mlp", out=str(tmp_path)
    )
    lines = result.stdout.splitlines()
    assert lines[0] == f"{'accuracy':36s} 62.50 %" and lines[1] == f"{'MAP@R':36s} 0.5000"
    assert lines[2] == f"features 1.2 s (CPU 2.0 s), head 0.5 s (CPU 0.8 s); report: {tmp_path / 'report.md'}"
