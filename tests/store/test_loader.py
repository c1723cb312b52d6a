"""Store training loader: each row once per epoch, chunk-aware shuffle, workers, labels, m-per-class."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from astropy.table import MaskedColumn

from galcat.errors import GalcatError
from galcat.store import open_store, write_store
from galcat.store.loader import BlockBatchSampler, make_loader
from galcat.synth import synthetic_catalogue_and_images

N_PER_CLASS = 14
CLASSES = ["E", "Sb", "SBc"]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """42 synthetic galaxies (16 px); rows 3, 10 and 20 unlabelled (hubble9 masked)."""
    table, images = synthetic_catalogue_and_images(CLASSES, N_PER_CLASS, size=16, seed=11)
    mask = np.zeros(len(table), bool)
    mask[[3, 10, 20]] = True
    table["hubble9"] = MaskedColumn(list(table["hubble9"]), mask=mask)
    return write_store(tmp_path_factory.mktemp("loader") / "s.h5", table, images)


def _epoch(loader):
    return [b["index"].numpy() for b in loader]


def test_every_row_once_per_epoch_in_order_without_shuffle(store_path):
    loader = make_loader(store_path, None, batch_size=8, shuffle=False, label_scheme=None)
    batches = list(loader)
    assert len(batches) == len(loader) == 6
    assert [len(b["index"]) for b in batches] == [8, 8, 8, 8, 8, 2]
    assert np.array_equal(np.concatenate([b["index"].numpy() for b in batches]), np.arange(42))
    b = batches[0]
    assert b["images"].dtype == torch.uint8 and tuple(b["images"].shape) == (8, 16, 16, 3)
    assert b["index"].dtype == torch.int64 and "labels" not in b and "targets" not in b
    assert (
        len(make_loader(store_path, None, batch_size=8, shuffle=False, label_scheme=None, drop_last=True))
        == 5
    )


def test_shuffled_epochs_cover_rows_once_and_are_deterministic(store_path):
    rows = np.array([40, 1, 2, 5, 7, 8, 9, 11, 12, 13, 30, 31, 33, 35, 36, 38, 39, 41, 0])
    loader = make_loader(
        store_path, rows, batch_size=5, shuffle=True, seed=3, label_scheme=None, block_size=4
    )
    first, second = _epoch(loader), _epoch(loader)
    for epoch in (first, second):
        assert sorted(np.concatenate(epoch).tolist()) == sorted(rows.tolist())
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))  # epochs differ
    again = make_loader(store_path, rows, batch_size=5, shuffle=True, seed=3, label_scheme=None, block_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(_epoch(again), first, strict=True))
    other = make_loader(store_path, rows, batch_size=5, shuffle=True, seed=4, label_scheme=None, block_size=4)
    assert not all(np.array_equal(a, b) for a, b in zip(_epoch(other), first, strict=True))
    again.sampler.set_epoch(0)
    assert all(np.array_equal(a, b) for a, b in zip(_epoch(again), first, strict=True))


def test_shuffle_keeps_chunk_blocks_together():
    sampler = BlockBatchSampler(
        np.arange(256), batch_size=64, shuffle=True, seed=0, drop_last=False, block_size=16
    )
    batches = list(sampler)
    assert sorted(np.concatenate(batches).tolist()) == list(range(256))
    for batch in batches:
        assert len(np.unique(batch // 16)) == 4  # a batch of 64 touches exactly 4 chunks of 16
        assert not np.array_equal(batch, np.sort(batch)) or len(batch) < 2  # shuffled within the batch
    assert not np.array_equal(np.concatenate(batches), np.arange(256))


def test_labels_images_and_targets_align_with_store_rows(store_path):
    store = open_store(store_path)
    codes, votes = store.label_codes("hubble9"), store.targets("votes")
    loader = make_loader(
        store_path, None, batch_size=6, shuffle=True, seed=1, label_scheme="hubble9", target="votes"
    )
    seen = []
    for batch in loader:
        idx = batch["index"].numpy()
        seen.extend(idx.tolist())
        assert np.array_equal(batch["images"].numpy(), store.read_images(idx))
        assert batch["labels"].dtype == torch.int64 and np.array_equal(batch["labels"].numpy(), codes[idx])
        assert batch["targets"].dtype == torch.float32 and np.array_equal(
            batch["targets"].numpy(), votes[idx]
        )
    assert sorted(seen) == [r for r in range(42) if r not in (3, 10, 20)]  # unlabelled rows dropped
    names = store.class_names("hubble9")
    assert {names[c] for c in codes[seen]} == set(CLASSES)


def test_workers_open_the_store_lazily(store_path):
    serial = make_loader(store_path, None, batch_size=7, shuffle=True, seed=2, num_workers=0)
    parallel = make_loader(store_path, None, batch_size=7, shuffle=True, seed=2, num_workers=2)
    assert parallel.dataset.store._file is None  # nothing open in the parent before the fork
    payload = pickle.dumps(parallel.dataset)
    assert b"h5py" not in payload and len(payload) < 20_000
    batches = list(parallel)
    assert parallel.dataset.store._file is None  # the workers did the reading
    expected = list(serial)
    assert len(batches) == len(expected) == 6
    for a, b in zip(batches, expected, strict=True):
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["images"], b["images"])
        assert torch.equal(a["labels"], b["labels"])


def test_m_per_class_batches(store_path):
    loader = make_loader(store_path, None, batch_size=6, m_per_class=2, seed=5, label_scheme="hubble9")
    codes = open_store(store_path).label_codes("hubble9")
    batches = list(loader)
    assert len(batches) == len(loader) == 39 // 6
    for batch in batches:
        idx = batch["index"].numpy()
        assert np.array_equal(batch["labels"].numpy(), codes[idx])
        _, counts = np.unique(batch["labels"].numpy(), return_counts=True)
        assert counts.tolist() == [2, 2, 2]
        assert not set(idx) & {3, 10, 20}
    again = make_loader(store_path, None, batch_size=6, m_per_class=2, seed=5, label_scheme="hubble9")
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_epoch(again), [b["index"].numpy() for b in batches], strict=True)
    )


def test_loader_errors_name_the_problem(store_path):
    with pytest.raises(GalcatError, match="must divide batch_size"):
        make_loader(store_path, None, batch_size=6, m_per_class=4)
    with pytest.raises(GalcatError, match="3 classes present"):
        make_loader(store_path, None, batch_size=8, m_per_class=2)
    with pytest.raises(GalcatError, match="needs a label_scheme"):
        make_loader(store_path, None, batch_size=6, m_per_class=2, label_scheme=None)
    with pytest.raises(GalcatError, match="row index 42 out of range"):
        make_loader(store_path, [0, 42], batch_size=6)
    with pytest.raises(GalcatError, match="no label scheme 'hubble11'"):
        make_loader(store_path, None, label_scheme="hubble11")
    with pytest.raises(GalcatError, match="no rows left"):
        make_loader(store_path, [3, 10], label_scheme="hubble9")


def test_in_memory_loader_serves_the_same_batches(store_path):
    kwargs = dict(batch_size=5, shuffle=True, seed=9, target="votes")
    streamed = list(make_loader(store_path, None, **kwargs))
    held = make_loader(store_path, None, in_memory=True, **kwargs)
    assert held.dataset.images.shape == (42, 16, 16, 3)
    for a, b in zip(held, streamed, strict=True):
        assert all(torch.equal(a[key], b[key]) for key in ("images", "index", "labels", "targets"))
