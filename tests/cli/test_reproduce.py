"""galcat.cli.reproduce: NAME=STORE and comma lists parsed into ReproduceConfig; bad forms refused."""

from __future__ import annotations

import pytest
from helpers.cli import invoke, one_line_error

from galcat.cli.reproduce import _listed, _named
from galcat.errors import GalcatError
from galcat.experiments.reproduce import ReproduceConfig


def test_named_and_listed():
    assert _named(["efigi = s/e.h5", "gz2h=s/g.h5"], "--train") == {"efigi": "s/e.h5", "gz2h": "s/g.h5"}
    assert _listed(" pair, ,triplet ") == ["pair", "triplet"] and _listed("") is None
    with pytest.raises(GalcatError, match="write NAME=STORE"):
        _named(["s/e.h5"], "--train")
    with pytest.raises(GalcatError, match="given twice"):
        _named(["a=x.h5", "a=y.h5"], "--train")


def test_config_built_from_the_options(api, tmp_path):
    calls = api(
        "galcat.experiments.reproduce",
        "reproduce",
        {"cells": [1, 2], "seconds": 3.4, "paths": {"tables": "t.md"}},
    )
    result = invoke(
        "reproduce",
        "--train",
        "efigi=e.h5",
        "--test",
        "rsa=r.h5",
        "--miners",
        "pair",
        "--classes",
        "9",
        "--quick",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert calls[0].args[0] == ReproduceConfig(
        train={"efigi": "e.h5"},
        test={"rsa": "r.h5"},
        out=str(tmp_path),
        miners=["pair"],
        classes=[9],
        quick=True,
    )
    assert result.stdout.strip() == "2 cells in 3 s; tables: t.md"


def test_bad_class_list_is_one_line(api, tmp_path):
    calls = api("galcat.experiments.reproduce", "reproduce", {})
    one_line_error(
        invoke("reproduce", "--train", "a=e.h5", "--test", "b=r.h5", "--classes", "nine"), "--classes"
    )
    assert calls == []
