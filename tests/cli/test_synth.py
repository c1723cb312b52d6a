"""galcat.cli.synth: a real (tiny) synthetic store, its summary line, and the noise copy."""

from __future__ import annotations

from helpers.cli import invoke

from galcat.store import open_store


def test_store_then_noise(tmp_path):
    expert, crowd = tmp_path / "expert.h5", tmp_path / "crowd.h5"
    result = invoke("synth", "store", "--classes", "E,Sa", "--n-per-class", 3, "--size", 8, "--out", expert)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"6 synthetic galaxies -> {expert}"
    with open_store(expert) as store:
        assert len(store) == 6 and store.image_shape == (8, 8, 3)
    result = invoke("synth", "noise", expert, "--rate", 0.5, "--out", crowd)
    assert result.exit_code == 0 and result.stdout.strip() == f"labels flipped at rate 0.5 -> {crowd}"
    with open_store(crowd) as store:
        assert "label_flipped" in store.catalogue.colnames
