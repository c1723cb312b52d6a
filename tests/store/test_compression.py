"""The images compression option: same pixels and fingerprint, different on-disk filter."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest

from galcat.errors import GalcatError
from galcat.store import open_store, write_store
from galcat.synth import synthetic_catalogue_and_images


@pytest.fixture(scope="module")
def catalogue_and_images():
    return synthetic_catalogue_and_images(["E0", "Sc"], n_per_class=6, size=32, seed=3, votes=False)


BLOSC = str(hdf5plugin.BLOSC_ID)


@pytest.mark.parametrize(
    "compression, h5_filter",
    [("lz4", BLOSC), ("zstd", BLOSC), ("gzip", "gzip"), ("lzf", "lzf"), ("none", None)],
)
def test_compression_round_trip(tmp_path, catalogue_and_images, compression, h5_filter):
    table, images = catalogue_and_images
    path = write_store(tmp_path / f"{compression}.h5", table, images, compression=compression)
    with h5py.File(path) as f:
        filters = f["images"]._filters
        assert (h5_filter in filters) if h5_filter else not filters
    store = open_store(path)
    np.testing.assert_array_equal(store.read_images(slice(None)), images)
    reference = write_store(tmp_path / "ref.h5", table, images, overwrite=True)
    assert store.fingerprint == open_store(reference).fingerprint


def test_unknown_compression_is_a_clear_error(tmp_path, catalogue_and_images):
    table, images = catalogue_and_images
    with pytest.raises(GalcatError, match="compression 'bzip' is not one of lz4, zstd, gzip, lzf, none"):
        write_store(tmp_path / "bad.h5", table, images, compression="bzip")
    assert not (tmp_path / "bad.h5").exists()


def test_default_store_is_lz4_in_chunks_that_the_loader_shuffles_as_blocks(tmp_path, catalogue_and_images):
    from galcat.store.loader import make_loader

    table, images = catalogue_and_images
    path = write_store(tmp_path / "default.h5", table, images)
    with h5py.File(path) as f:
        assert BLOSC in f["images"]._filters and f["images"].chunks[0] == min(16, len(table))
    batches = list(make_loader(path, None, batch_size=4, shuffle=True, seed=0))
    assert sorted(np.concatenate([b["index"].numpy() for b in batches]).tolist()) == list(range(len(table)))
