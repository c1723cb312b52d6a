"""The images compression option: same pixels and fingerprint, different on-disk filter."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from galcat.errors import GalcatError
from galcat.store import open_store, write_store
from galcat.synth import synthetic_catalogue_and_images


@pytest.fixture(scope="module")
def catalogue_and_images():
    return synthetic_catalogue_and_images(["E0", "Sc"], n_per_class=6, size=32, seed=3, votes=False)


@pytest.mark.parametrize("compression, h5_filter", [("gzip", "gzip"), ("lzf", "lzf"), ("none", None)])
def test_compression_round_trip(tmp_path, catalogue_and_images, compression, h5_filter):
    table, images = catalogue_and_images
    path = write_store(tmp_path / f"{compression}.h5", table, images, compression=compression)
    with h5py.File(path) as f:
        assert f["images"].compression == h5_filter
    store = open_store(path)
    np.testing.assert_array_equal(store.read_images(slice(None)), images)
    reference = write_store(tmp_path / "ref.h5", table, images, overwrite=True)
    assert store.fingerprint == open_store(reference).fingerprint


def test_unknown_compression_is_a_clear_error(tmp_path, catalogue_and_images):
    table, images = catalogue_and_images
    with pytest.raises(GalcatError, match="compression 'zstd' is not one of gzip, lzf, none"):
        write_store(tmp_path / "bad.h5", table, images, compression="zstd")
    assert not (tmp_path / "bad.h5").exists()
