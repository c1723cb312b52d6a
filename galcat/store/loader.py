"""Training loader over an HDF5 store: whole uint8 batches read as contiguous slices.

Why: decoding one JPEG per sample through PIL is the bottleneck of the paper's pipeline. Here a
sampler yields a whole batch of row indices at once; the dataset reads them in sorted runs
(``Store.read_images``), so a batch touches few compressed HDF5 chunks, and augmentation runs
later on whole tensors (``galcat.store.augment``). Shuffling is chunk-aware: rows are grouped
into blocks of one HDF5 chunk, blocks are shuffled, and rows are shuffled within each batch.
The HDF5 file is opened lazily in each worker process (nothing h5py is pickled).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from galcat.errors import GalcatError
from galcat.store.reader import Store, open_store


def batch_count(n_rows: int, batch_size: int, drop_last: bool) -> int:
    """Batches in an epoch of ``n_rows`` rows (a partial last batch counts unless ``drop_last``)."""
    return n_rows // batch_size if drop_last else -(-n_rows // batch_size)


def m_per_class_batch_count(n_rows: int, batch_size: int) -> int:
    """Batches of an :class:`MPerClassBatchSampler` epoch: ``n_rows`` rounded down to whole
    batches, at least one."""
    return max(n_rows - n_rows % batch_size, batch_size) // batch_size


class StoreBatches(Dataset):
    """Map-style dataset whose item is a whole batch: ``dataset[rows]`` -> dict of tensors.

    Holds labels/targets in memory (small) and a :class:`Store`, whose h5py handle is opened on
    first read in each process.
    """

    def __init__(
        self,
        store: Store,
        labels: np.ndarray | None = None,
        targets: np.ndarray | None = None,
        images: np.ndarray | None = None,
    ):
        self.store = store
        self.labels = labels
        self.targets = targets
        self.images = images  # all decoded images, when the loader was asked to hold them in memory
        self.n_rows = len(store)  # read now, so len() never reopens the file in the parent

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, rows) -> dict[str, torch.Tensor]:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        images = self.images[rows] if self.images is not None else self.store.read_images(rows)
        batch = {
            "images": torch.from_numpy(images),
            "index": torch.from_numpy(rows.copy()),
        }
        if self.labels is not None:
            batch["labels"] = torch.from_numpy(self.labels[rows].astype(np.int64))
        if self.targets is not None:
            batch["targets"] = torch.from_numpy(np.ascontiguousarray(self.targets[rows], dtype=np.float32))
        return batch


class _EpochSampler(Sampler):
    """The epoch bookkeeping both batch samplers share: order depends only on (seed, epoch).

    The epoch advances on each iteration unless :meth:`set_epoch` fixes it (as DistributedSampler).
    """

    epoch: int = 0
    _epoch_fixed: bool = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._epoch_fixed = True

    def _next_epoch(self) -> int:
        """The epoch to draw now; advances the counter unless it was fixed."""
        epoch = self.epoch
        if not self._epoch_fixed:
            self.epoch += 1
        return epoch


class BlockBatchSampler(_EpochSampler):
    """Yields batches (int64 arrays of store rows) covering every given row exactly once per epoch.

    Without shuffle: the rows in the given order, cut into batches. With shuffle: rows are grouped
    into blocks of ``block_size`` consecutive rows (one HDF5 chunk), the blocks are shuffled, cut
    into batches, and each batch is shuffled. The order depends only on (seed, epoch); the epoch
    advances on each iteration unless :meth:`set_epoch` fixes it (as for DistributedSampler).
    """

    def __init__(
        self, rows, batch_size: int, shuffle: bool, seed: int, drop_last: bool, block_size: int = 16
    ):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.block_size = max(int(block_size), 1)

    def __len__(self) -> int:
        return batch_count(len(self.rows), self.batch_size, self.drop_last)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """All rows in this epoch's order (before cutting into batches)."""
        if not self.shuffle:
            return self.rows
        rng = np.random.default_rng([self.seed, epoch])
        rows = np.sort(self.rows)
        block_of_row = rows // self.block_size
        starts = np.flatnonzero(np.r_[True, block_of_row[1:] != block_of_row[:-1]])
        blocks = np.split(rows, starts[1:])
        return np.concatenate([blocks[i] for i in rng.permutation(len(blocks))]) if blocks else rows

    def __iter__(self) -> Iterator[np.ndarray]:
        epoch = self._next_epoch()
        order = self.epoch_order(epoch)
        rng = np.random.default_rng([self.seed, epoch, 1])
        for i in range(len(self)):
            batch = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield rng.permutation(batch) if self.shuffle else batch


class ClassBalancedBatchSampler(_EpochSampler):
    """Batches drawn with replacement, each row weighted by ``n_class ** -power``.

    Why: with GZ1's 70 % ellipticals, a few epochs of natural-frequency batches teach the majority
    classes only. ``power`` 1 gives every class the same expected share of a batch, 0 the natural
    frequencies, 0.5 (the square-root rule) a compromise that keeps the rare classes' few images
    from being repeated too often. An epoch has ``len(rows)`` draws; each batch is sorted so its
    reads stay in row order. Deterministic given (seed, epoch).
    """

    def __init__(self, rows, labels_of_rows, power: float, batch_size: int, seed: int, drop_last: bool):
        self.rows = np.asarray(rows, dtype=np.int64)
        labels = np.asarray(labels_of_rows, dtype=np.int64)
        self.batch_size, self.seed, self.drop_last = int(batch_size), int(seed), bool(drop_last)
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        weights = counts.astype(np.float64)[inverse] ** -float(power)
        self.p = weights / weights.sum()

    def __len__(self) -> int:
        return batch_count(len(self.rows), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[np.ndarray]:
        epoch = self._next_epoch()
        rng = np.random.default_rng([self.seed, epoch, 2])
        n = len(self) * self.batch_size if self.drop_last else len(self.rows)
        draws = rng.choice(len(self.rows), size=n, p=self.p)
        for i in range(len(self)):
            yield np.sort(self.rows[draws[i * self.batch_size : (i + 1) * self.batch_size]])


@contextlib.contextmanager
def _seeded_pml(seed: int):
    """PML samplers draw from ``common_functions.NUMPY_RANDOM``; swap in a seeded RandomState."""
    from pytorch_metric_learning.utils import common_functions as c_f

    saved = c_f.NUMPY_RANDOM
    c_f.NUMPY_RANDOM = np.random.RandomState(seed % 2**32)
    try:
        yield
    finally:
        c_f.NUMPY_RANDOM = saved


class MPerClassBatchSampler(_EpochSampler):
    """Batches of ``m`` rows per class from pytorch-metric-learning's ``MPerClassSampler``.

    An epoch has ``len(rows)`` samples rounded down to whole batches; deterministic given (seed, epoch).
    """

    def __init__(self, rows, labels_of_rows, m: int, batch_size: int, seed: int):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels_of_rows, dtype=np.int64)
        self.m, self.batch_size, self.seed = int(m), int(batch_size), int(seed)
        n_classes = len(np.unique(self.labels))
        if self.m < 1 or self.batch_size % self.m:
            raise GalcatError(f"m_per_class={m} must divide batch_size={batch_size}")
        if self.m * n_classes < self.batch_size:
            raise GalcatError(
                f"m_per_class={m} x {n_classes} classes present = {self.m * n_classes} < batch_size="
                f"{batch_size}; lower batch_size or raise m_per_class"
            )

    def __len__(self) -> int:
        return m_per_class_batch_count(len(self.rows), self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        from pytorch_metric_learning.samplers import MPerClassSampler

        epoch = self._next_epoch()
        length = len(self) * self.batch_size
        sampler = MPerClassSampler(
            labels=self.labels, m=self.m, batch_size=self.batch_size, length_before_new_iter=length
        )
        with _seeded_pml(int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])):
            positions = np.fromiter(iter(sampler), dtype=np.int64)
        for i in range(len(positions) // self.batch_size):
            yield self.rows[positions[i * self.batch_size : (i + 1) * self.batch_size]]


def _select_rows(
    store: Store, indices, label_scheme, target
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validated store rows, dropping unlabelled rows (code -1) and rows with non-finite targets."""
    n = len(store)
    rows = (
        np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices).astype(np.int64).reshape(-1)
    )
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        bad = rows[(rows < 0) | (rows >= n)][0]
        raise GalcatError(f"{store.path}: row index {bad} out of range for a store of {n} rows")
    labels = targets = None
    if label_scheme is not None:
        labels = store.label_codes(label_scheme)
        rows = rows[labels[rows] >= 0]
    if target is not None:
        targets = store.targets(target)
        rows = rows[np.isfinite(targets[rows]).all(axis=1)]
    if len(rows) == 0:
        raise GalcatError(f"{store.path}: no rows left to load (after dropping unlabelled rows)")
    return rows, labels, targets


def make_loader(
    store_path,
    indices: Sequence[int] | np.ndarray | None = None,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    label_scheme: str | None = "hubble9",
    target: str | None = None,
    drop_last: bool = False,
    m_per_class: int | None = None,
    block_size: int | None = None,
    pin_memory: bool = False,
    persistent_workers: bool = False,
    in_memory: bool = False,
    class_balance: float = 0.0,
) -> DataLoader:
    """A DataLoader of uint8 batches over ``indices`` (store rows; None = all rows).

    Each batch is a dict: ``images`` uint8 (B,H,W,3), ``index`` int64 (B,) store rows, ``labels``
    int64 (B,) with ``label_scheme`` (rows coded -1 are dropped), ``targets`` float32 (B,K) with
    ``target`` (rows with non-finite targets are dropped). ``m_per_class`` wraps PML's
    ``MPerClassSampler`` (needs ``label_scheme``; always random). ``block_size`` (default: the
    images' HDF5 chunk rows) sets the contiguous blocks that shuffling keeps together.
    ``in_memory`` decompresses the images once, here, and serves every epoch from RAM (N*H*W*3
    bytes; forked workers share the pages): worth it for many epochs over a store that fits.
    ``class_balance`` > 0 (needs ``label_scheme`` and ``shuffle``) draws class-balanced batches
    (:class:`ClassBalancedBatchSampler` with that power); ``m_per_class`` takes precedence.
    """
    path = Path(store_path)
    if int(batch_size) < 1:
        raise GalcatError(f"batch_size must be >= 1, got {batch_size}")
    store = open_store(path)
    try:
        rows, labels, targets = _select_rows(store, indices, label_scheme, target)
        chunks = store.file["images"].chunks
        block = int(block_size) if block_size else (chunks[0] if chunks else 1)
        images = store.read_images(slice(None)) if in_memory else None
        dataset = StoreBatches(store, labels, targets, images)
    finally:
        store.close()  # no handle crosses fork: each worker opens its own on first read
    if m_per_class is not None:
        if labels is None:
            raise GalcatError("m_per_class needs a label_scheme")
        sampler = MPerClassBatchSampler(rows, labels[rows], m_per_class, batch_size, seed)
    elif class_balance > 0 and shuffle:
        if labels is None:
            raise GalcatError("class_balance needs a label_scheme")
        sampler = ClassBalancedBatchSampler(rows, labels[rows], class_balance, batch_size, seed, drop_last)
    else:
        sampler = BlockBatchSampler(rows, batch_size, shuffle, seed, drop_last, block)
    workers = int(num_workers)
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=persistent_workers and workers > 0,
    )
