"""galcat.cli.build: `build` options -> BuildConfig (with its PreprocessConfig), the summary line; `info`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from helpers.cli import invoke

from galcat.store.build import BuildConfig
from galcat.store.preprocess import PreprocessConfig


def _summary(config, out, base_url=None):
    return SimpleNamespace(
        out=Path(out),
        n_stored=7,
        n_rows=9,
        status_counts={"ok": 7, "failed": 2},
        resumed_rows=0,
        excluded=1,
        not_in_archive=0,
        no_image_file=0,
        failures_path=Path("s.failures.ecsv"),
        n_failed=2,
    )


def test_options_become_the_build_config(api, tmp_path):
    calls = api("galcat.store.api", "build_from_config", _summary)
    result = invoke(
        "build",
        "folder",
        "--catalogue",
        tmp_path / "c.csv",
        "--size",
        64,
        "--crop",
        0,
        "--out",
        tmp_path / "s.h5",
        "--present-only",
    )
    assert result.exit_code == 0, result.output
    config, out = calls[0].args
    assert out == tmp_path / "s.h5" and calls[0].kwargs == {"base_url": None}
    assert config.preprocess == PreprocessConfig(crop=0, size=64)
    expected = BuildConfig(
        name="folder",
        catalogue=str(tmp_path / "c.csv"),
        service="skyserver",
        preprocess=PreprocessConfig(crop=0, size=64),
        present_only=True,
    )
    assert config == expected
    assert result.stdout.splitlines() == [
        f"wrote {tmp_path / 's.h5'}: 7 of 9 rows (failed=2, ok=7), 1 excluded",
        "not stored: 2 rows listed in s.failures.ecsv",
    ]


def test_info_prints_json_when_asked(api, tmp_path):
    api("galcat.store.verify", "store_info", {"rows": 3, "schemes": ["hubble9"]})
    result = invoke("info", tmp_path / "s.h5", "--json")
    assert result.exit_code == 0 and '"rows": 3' in result.stdout and '"hubble9"' in result.stdout
