"""`galcat neighbours` on real EFIGI cutouts, the query given by name and resolved offline (OpenNGC)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from helpers.cli import invoke
from PIL import Image

from galcat.schemes import HUBBLE9


@pytest.fixture(scope="module")
def efigi_store(shared_data, tmp_path_factory):
    """The 15 real EFIGI colour cutouts (64 px) with RA/Dec from their FITS WCS and the paper's labels."""
    from galcat.store import write_store

    labels = {}
    with open(shared_data / "efigi" / "efigi_model.csv") as fh:
        for row in csv.DictReader(fh):
            labels[row["full_pgc_name"].strip()] = row["hubb"].strip()
    names = sorted(p.stem for p in (shared_data / "efigi" / "png").glob("PGC*.png"))
    ra, dec, images = [], [], []
    for name in names:
        header = fits.getheader(shared_data / "efigi" / "fits" / f"{name}_r.fits")
        ra.append(header["CRVAL1"])
        dec.append(header["CRVAL2"])
        image = Image.open(shared_data / "efigi" / "png" / f"{name}.png").convert("RGB").resize((64, 64))
        images.append(np.asarray(image, dtype=np.uint8))
    hubble9 = [labels.get(n, "") for n in names]
    table = Table({"objid": names, "ra": ra * u.deg, "dec": dec * u.deg})
    table["hubble9"] = MaskedColumn(hubble9, mask=[h == "" for h in hubble9])
    table.meta["label_schemes"] = {"hubble9": list(HUBBLE9)}
    path = tmp_path_factory.mktemp("efigi") / "efigi.h5"
    return write_store(path, table, np.stack(images))


def test_neighbours_of_ngc7814_by_name(efigi_store, shared_data, tiny, tmp_path):
    run, _ = tiny
    out = tmp_path / "ngc7814.png"
    resolver = f"openngc:{shared_data / 'openngc'}"
    result = invoke("neighbours", "--model", run, "--index", efigi_store, "--query", "NGC 7814",
                    "--resolver", resolver, "--k", 11, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "query PGC0000218" in result.output and "found by resolver" in result.output  # NGC 7814 = PGC 218
    ranked = [line.split() for line in result.output.splitlines() if line[:3].strip().isdigit()]
    assert len(ranked) == 11 and all(r[1].startswith("PGC") and r[1] != "PGC0000218" for r in ranked)
    assert {r[2] for r in ranked} <= set(HUBBLE9) | {"?"}  # unlabelled EFIGI galaxies show '?'
    png = Image.open(out)
    assert png.size == (6 * 230, 2 * 275)
    # the cached index is reused for the next query (no second forward pass over the store)
    key_files = list(efigi_store.parent.glob("efigi.h5.*.json"))
    assert len(key_files) == 1
    before = key_files[0].stat().st_mtime_ns
    again = invoke("neighbours", "--model", run, "--index", efigi_store, "--query", "PGC0000212",
                   "--k", 5, "--out", tmp_path / "b.png")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert key_files[0].stat().st_mtime_ns == before


def test_query_from_another_store_against_efigi(efigi_store, tiny, tmp_path):
    """The paper's Figures 3-4 set-up: the query comes from one catalogue, the neighbours from another."""
    run, synth = tiny
    out = tmp_path / "cross.png"
    result = invoke("neighbours", "--model", run, "--index", efigi_store, "--store", synth,
                    "--query", "SYN000003", "--k", 14, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    ranked = [line.split() for line in result.output.splitlines() if line[:3].strip().isdigit()]
    assert len(ranked) == 14 and all(r[1].startswith("PGC") for r in ranked)  # nothing dropped as "self"
    assert out.exists()
    too_many = invoke("neighbours", "--model", run, "--index", efigi_store, "--store", synth,
                      "--query", "SYN000003", "--k", 16, "--out", tmp_path / "x.png")  # fmt: skip
    assert too_many.exit_code == 2 and "cannot return 16 neighbours" in too_many.output


def test_predict_turns_changes_the_embedding_the_neighbours_come_from(efigi_store, tiny, tmp_path):
    """``--predict-turns 1`` embeds one view: other distances than the run's four turns, an index
    rebuilt for that model, and a value other than 1 or 4 refused."""
    from galcat.model import load_run

    run, synth = tiny
    assert load_run(run).folds[0].model.rotations == 4

    def distances(*extra):
        result = invoke("neighbours", "--model", run, "--index", efigi_store, "--store", synth,
                        "--query", "SYN000003", "--k", 5, "--out", tmp_path / "n.png", *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        return [float(line.split()[3]) for line in result.output.splitlines() if line[:3].strip().isdigit()]

    four, one, four_again = distances(), distances("--predict-turns", "1"), distances()
    assert four == four_again and len(one) == 5
    assert not np.allclose(four, one)
    bad = invoke("neighbours", "--model", run, "--index", efigi_store, "--query", "PGC0000212",
                 "--predict-turns", "3", "--out", tmp_path / "x.png")  # fmt: skip
    assert bad.exit_code == 2 and "--predict-turns must be 1 or 4, got 3" in bad.output
