"""galcat.cli.catalogue: each reader's options reach write_catalogue; the printed counts."""

from __future__ import annotations

from astropy.table import Table
from helpers.cli import invoke


def _table(name, out, overwrite=False, **options):
    table = Table({"objid": ["a", "b", "c"], "hubble9": ["E", "E", "Sa"]})
    table.meta.update(
        label_rule="rule-v1", label_schemes={"hubble9": ["E", "Sa"]}, n_masked=1, n_unresolved=2
    )
    return table


def test_reader_options_and_printed_summary(api, tmp_path):
    calls = api("galcat.catalogues", "write_catalogue", _table)
    result = invoke(
        "catalogue", "rsa", "--source", "rsa.csv", "--labels", "paper", "--out", tmp_path / "r.ecsv"
    )
    assert result.exit_code == 0, result.output
    call = calls[0]
    assert call.args == ("rsa", tmp_path / "r.ecsv")
    assert call.kwargs == {
        "overwrite": False,
        "source": "rsa.csv",
        "labels": "paper",
        "paper_labels": None,
        "resolver": None,
        "id_column": None,
        "label_column": None,
    }
    err = result.stderr  # the summary goes to the console (stderr), stdout stays for data
    assert f"rsa: 3 rows -> {tmp_path / 'r.ecsv'}  (labels: rule-v1)" in err
    assert "hubble9: E 2, Sa 1" in err and "masked labels: 1" in err and "unresolved names: 2" in err


def test_targets_frame_default_is_icrs(api, tmp_path):
    calls = api("galcat.catalogues", "write_catalogue", _table)
    invoke("catalogue", "targets", "--source", "t.csv", "--out", tmp_path / "t.fits")
    assert calls[0].kwargs["frame"] == "icrs" and calls[0].kwargs["equinox"] is None
