"""galcat.cli.audit: --names parsing, options -> AuditConfig, the agreement line."""

from __future__ import annotations

from helpers.cli import invoke, one_line_error

from galcat.experiments.audit import AuditConfig


def test_names_become_a_pair_and_the_line_reads_well(api, tmp_path):
    result_dict = {
        "names": ["rsa", "efigi"],
        "n_pairs": 12,
        "agreement": 0.75,
        "kappa": 0.5,
        "kappa_ci": [0.2, 0.8],
    }
    calls = api("galcat.experiments.audit", "audit", result_dict)
    result = invoke("audit", "a.fits", "b.fits", "--names", " rsa , efigi", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == AuditConfig(a="a.fits", b="b.fits", out=str(tmp_path), names=("rsa", "efigi"))
    assert result.stdout.splitlines()[0] == (
        "rsa vs efigi: 12 galaxies labelled in both, agreement 75.0 %, kappa 0.500 [0.200, 0.800]"
    )


def test_names_need_two(api, tmp_path):
    calls = api("galcat.experiments.audit", "audit", {})
    one_line_error(invoke("audit", "a.fits", "--names", "rsa", "--out", tmp_path), "--names", "two names")
    assert calls == []
