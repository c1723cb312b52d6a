"""galcat.cli.train: options -> TrainConfig, and the summary printed with the report's formatter."""

from __future__ import annotations

from types import SimpleNamespace

from helpers.cli import invoke

from galcat.model.config import TrainConfig


def _result(cfg):
    summary = {
        "metrics": {
            "accuracy": {"mean": 0.81, "std": 0.01, "n_folds": 2},
            "macro_f1": {"mean": 0.7512, "std": 0.0, "n_folds": 1},
        }
    }
    return SimpleNamespace(
        out=cfg.out, config=SimpleNamespace(stage=cfg.stage, arch="resnet18"), folds=[0, 1], summary=summary
    )


def test_options_become_the_config_and_defaults_stay_the_configs(api, tmp_path):
    calls = api("galcat.model", "train", _result)
    result = invoke(
        "train",
        "--store",
        tmp_path / "s.h5",
        "--out",
        tmp_path / "r",
        "--stage",
        "dml",
        "--loss",
        "triplet",
        "--no-flips",
        "--weights",
        tmp_path / "w.pt",
        "--batch-size",
        8,
    )
    assert result.exit_code == 0, result.output
    cfg = calls[0].args[0]
    assert isinstance(cfg, TrainConfig)
    assert (cfg.stage, cfg.loss, cfg.flips, cfg.batch_size) == ("dml", "triplet", False, 8)
    assert cfg.weights == str(tmp_path / "w.pt") and isinstance(cfg.store, str)
    default = TrainConfig(
        store=cfg.store,
        out=cfg.out,
        stage="dml",
        loss="triplet",
        flips=False,
        batch_size=8,
        weights=cfg.weights,
    )
    assert cfg == default  # every option not given is the dataclass default


def test_summary_lines_use_the_report_formatter(api, tmp_path):
    api("galcat.model", "train", _result)
    result = invoke("train", "--store", tmp_path / "s.h5", "--out", tmp_path / "r")
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {tmp_path / 'r'} (ls-ce, resnet18, 2 fold(s))"
    assert lines[1] == "  accuracy         81.00 ± 1.00 %"  # percent, as in report.md
    assert lines[2] == "  macro_f1         0.7512"  # one fold: no '± 0.0000'


def test_other_ranks_stay_quiet(api, tmp_path, monkeypatch):
    api("galcat.model", "train", _result)
    monkeypatch.setenv("RANK", "1")
    assert invoke("train", "--store", tmp_path / "s.h5", "--out", tmp_path / "r").stdout == ""
