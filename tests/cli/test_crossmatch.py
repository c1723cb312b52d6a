"""galcat.cli.crossmatch: arguments -> crossmatch_to_file, and the pairs line."""

from __future__ import annotations

from astropy.table import Table
from helpers.cli import invoke

from galcat.catalogues.targets import read_user_table


def test_options_reach_the_matcher_and_the_count_is_printed(api, tmp_path):
    calls = api("galcat.coords.crossmatch", "crossmatch_to_file", Table({"row_a": [0, 1]}))
    result = invoke(
        "crossmatch", tmp_path / "a.fits", tmp_path / "b.ecsv", "--by", "both", "--out", tmp_path / "m.fits"
    )
    assert result.exit_code == 0, result.output
    call = calls[0]
    assert call.args == (tmp_path / "a.fits", tmp_path / "b.ecsv", tmp_path / "m.fits")
    assert call.kwargs == {
        "overwrite": False,
        "radius": "5arcsec",
        "by": "both",
        "key": "pgc",
        "key_b": None,
        "reader": read_user_table,
    }  # the one reader of user tables
    assert f"2 matched pairs (a.fits x b.ecsv, by both) -> {tmp_path / 'm.fits'}" in result.stderr
