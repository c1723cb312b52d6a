"""make_source: the one way every command picks its pixels (local folder or any cutout service)."""

from __future__ import annotations

import pytest

from galcat.errors import GalcatError
from galcat.images import (
    SERVICES,
    Hips2FitsSource,
    LegacySurveySource,
    LocalArchiveSource,
    SkyServerSource,
    make_source,
    source_settings,
)


def test_each_service_gets_only_the_options_given_and_keeps_its_defaults():
    sky = make_source("skyserver", release=16, pixels=256, base_url="http://127.0.0.1:1/")
    assert isinstance(sky, SkyServerSource) and (sky.release, sky.pixels, sky.scale) == (16, 256, 0.396)
    assert sky.base_url.startswith("http://127.0.0.1:1")
    hips = make_source("hips2fits", scale=0.5, base_url="http://127.0.0.1:2/hips2fits")
    assert isinstance(hips, Hips2FitsSource) and hips.scale == 0.5 and "127.0.0.1:2" in repr(hips)
    legacy = make_source("legacysurvey", pixels=128)
    assert isinstance(legacy, LegacySurveySource) and (legacy.pixels, legacy.scale) == (128, 0.262)
    assert isinstance(make_source(None), SkyServerSource)  # the default service
    assert list(SERVICES) == ["skyserver", "hips2fits", "legacysurvey"]


def test_settings_record_what_the_source_really_uses():
    settings = source_settings(make_source("legacysurvey"))
    assert (settings["release"], settings["scale"], settings["pixels"]) == (None, 0.262, 256)
    assert "LegacySurveySource" in settings["source_options"]["source"]


def test_a_folder_wins_over_the_service_and_is_matched_by_the_image_key(tmp_path):
    (tmp_path / "NGC0001.JPG").write_bytes(b"")
    source = make_source("hips2fits", tmp_path, image_key="name")
    assert isinstance(source, LocalArchiveSource) and source.key == "name"
    assert source_settings(source)["source_options"] == {}


def test_bad_choices_are_one_clear_error():
    with pytest.raises(GalcatError, match="--service 'sdss': use one of skyserver, hips2fits, legacysurvey"):
        make_source("sdss")
    with pytest.raises(GalcatError, match="--release applies to --service skyserver, not legacysurvey"):
        make_source("legacysurvey", release=17)
    with pytest.raises(GalcatError, match="does not exist"):
        make_source("skyserver", "/nonexistent/folder")


def test_an_image_pattern_names_the_files_of_an_id(tmp_path):
    """Archives like the Galaxy Zoo Mergers targets name files '<SDSSID>_tgt.png'."""
    (tmp_path / "587722984435351614_TGT.PNG").write_bytes(b"")
    source = make_source(None, tmp_path, image_pattern="{key}_tgt")
    row = {"objid": "587722984435351614"}
    assert source.find(source.file_name(0, row)).name == "587722984435351614_TGT.PNG"
