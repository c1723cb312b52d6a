"""galcat.cli.classify: options -> ClassifyConfig, and the API's summary lines printed as they are."""

from __future__ import annotations

from types import SimpleNamespace

from helpers.cli import invoke

from galcat.outputs.classify import ClassifyConfig


def test_config_and_summary_lines(api, tmp_path):
    calls = api("galcat.outputs.classify", "classify_targets", SimpleNamespace(n_classified=2, name="result"))
    api("galcat.outputs.classify_table", "format_summary", lambda r: [f"summary of {r.name}", "second line"])
    out = tmp_path / "o.fits"
    result = invoke(
        "classify",
        "--model",
        "runs/x",
        "--targets",
        "t.csv",
        "--out",
        out,
        "--images",
        tmp_path,
        "--resolver",
        "openngc:ngc",
        "--workers",
        2,
    )
    assert result.exit_code == 0, result.output
    expected = ClassifyConfig(
        model="runs/x", targets="t.csv", out=str(out), images=str(tmp_path), resolver="openngc:ngc", workers=2
    )
    assert calls[0].args[0] == expected
    assert result.stdout.splitlines() == ["summary of result", "second line"]


def test_nothing_classified_is_exit_3_after_the_table(api, tmp_path):
    api("galcat.outputs.classify", "classify_targets", SimpleNamespace(n_classified=0))
    api("galcat.outputs.classify_table", "format_summary", lambda r: ["wrote the table"])
    result = invoke("classify", "--model", "runs/x", "--targets", "t.csv", "--out", tmp_path / "o.fits")
    assert result.exit_code == 3 and result.stdout.splitlines() == ["wrote the table"]
    assert "could be classified" in result.stderr


def test_other_ranks_print_nothing(api, tmp_path):
    api("galcat.outputs.classify", "classify_targets", None)
    result = invoke("classify", "--model", "runs/x", "--targets", "t.csv", "--out", tmp_path / "o.fits")
    assert result.exit_code == 0 and result.stdout == ""
