"""Catalogue specs ship inside the package; GALCAT_CATALOGUE_SPECS replaces them."""

from __future__ import annotations

import pytest

from galcat.catalogues import CATALOGUE_NAMES, load_spec, read_catalogue
from galcat.errors import GalcatError


def test_every_catalogue_kind_reads_its_packaged_spec_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GALCAT_CATALOGUE_SPECS", raising=False)
    for name in CATALOGUE_NAMES:
        spec = load_spec(name)
        assert spec.name == name and spec.citation and spec.label["rule"]
        assert spec.path.parent.name == "specs" and spec.path.parent.parent.name == "catalogues"


def test_the_override_folder_changes_what_a_reader_does(shared_data, tmp_path, monkeypatch):
    packaged = load_spec("efigi").path.read_text(encoding="utf-8")
    assert 'pattern = "PGC{pgc:07d}"' in packaged
    (tmp_path / "efigi.toml").write_text(packaged.replace("PGC{pgc:07d}", "EFIGI-{pgc}"), encoding="utf-8")
    (tmp_path / "rsa.toml").write_text('name = "rsa"\ncitation = "x"\n', encoding="utf-8")
    monkeypatch.setenv("GALCAT_CATALOGUE_SPECS", str(tmp_path))
    table = read_catalogue("efigi", shared_data / "efigi" / "EFIGI_attributes.txt")
    assert len(table) == 4458 and str(table["objid"][0]) == "EFIGI-212"
    with pytest.raises(GalcatError, match=r"rsa\.toml: spec is missing key\(s\) \['source', 'columns'"):
        load_spec("rsa")
    with pytest.raises(GalcatError, match=r"gz2\.toml: no catalogue spec 'gz2'; known: efigi, rsa"):
        load_spec("gz2")
