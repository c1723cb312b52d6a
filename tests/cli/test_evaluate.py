"""galcat.cli.evaluate: options -> EvaluateConfig (--raw is normalize=False); lines in the report's format."""

from __future__ import annotations

from helpers.cli import invoke

from galcat.evaluate.api import EvaluateConfig


def _metrics(cfg):
    fold = {"classification": {"accuracy": 0.8, "macro_f1": 0.7}, "retrieval": {"precision_at_1": 0.9}}
    return {
        "summary": {
            "accuracy": {"mean": 0.8, "std": 0.05, "n_folds": 2},
            "macro_f1": {"mean": 0.7, "std": 0.1, "n_folds": 2},
        },
        "combined": {**fold, "n_query": 40, "folds": [0, 1], "kind": "ensemble"},
        "folds": [fold, fold],
    }


def test_config_and_printed_metrics(api, tmp_path):
    calls = api("galcat.evaluate.api", "evaluate", _metrics)
    result = invoke(
        "evaluate", "--model", "runs/x", "--query", "q.h5", "--raw", "--fold", "0,1", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == EvaluateConfig(
        model="runs/x", query="q.h5", folds="0,1", normalize=False, out=str(tmp_path)
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "40 query galaxies; 2 fold(s) used, numbered 0, 1"  # a count, then the numbers
    assert lines[1] == f"{'accuracy':36s} 80.00 ± 5.00 % over folds"  # as report.md writes it
    assert lines[2] == f"{'unweighted F1':36s} 0.7000 ± 0.1000 over folds"
    assert lines[3] == "ensemble of 2 folds: accuracy 80.00 %, unweighted F1 0.7000, MAP@1 (P@1) 90.00 %"
    assert (
        lines[-1] == f"report: {tmp_path / 'report.md'} (with the figures inline: {tmp_path / 'report.html'})"
    )
    assert invoke("evaluate", "--model", "runs/x", "--query", "q.h5", "--folds", "1").exit_code == 0
    assert calls[-1].args[0].folds == "1"  # --folds and --fold are one option
