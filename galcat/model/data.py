"""What training needs from a store: usable rows, labels or vote targets, loaders, augmentation.

The loader and the batch augmentation live in the store stage (``galcat.store.loader`` /
``galcat.store.augment``, contracts in docs/architecture.md); this module only adapts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from galcat.errors import GalcatError


@dataclass
class TrainingData:
    """Rows usable for the stage, with their labels (classification) or vote targets."""

    store_path: str
    scheme: str | None
    class_names: list[str]
    rows: np.ndarray  # int64 store rows
    labels: np.ndarray | None  # codes aligned with rows (None for votes)
    n_votes: int
    fingerprint: str
    image_size: int
    mirror_pairs: list = field(default_factory=list)  # class pairs a reflection exchanges


def open_training_data(store_path: str, stage: str, scheme: str | None) -> TrainingData:
    """Read labels/targets once and drop rows that cannot be used (label -1, NaN votes)."""
    from galcat.schemes.handedness import mirror_pairs
    from galcat.store import open_store

    store = open_store(store_path)
    try:
        scheme = store.choose_scheme(scheme)
        class_names = list(store.class_names(scheme)) if scheme is not None else []
        declared = store.file[f"labels/{scheme}"].attrs.get("mirror_pairs") if scheme is not None else None
        n = len(store)
        if stage == "votes":
            try:
                votes = np.asarray(store.targets("votes"), dtype=np.float32)
            except (KeyError, GalcatError) as exc:
                raise GalcatError(
                    f"{store_path}: --stage votes needs targets/votes (GZ2 vote fractions) "
                    f"in the store ({exc})"
                ) from None
            rows = np.flatnonzero(np.isfinite(votes).all(axis=1))
            labels, n_votes = None, int(votes.shape[1])
        else:
            if scheme is None:
                raise GalcatError(
                    f"{store_path}: the store has no label scheme; --stage {stage} needs labels"
                )
            codes = np.asarray(store.label_codes(scheme), dtype=np.int64)
            rows = np.flatnonzero(codes >= 0)
            labels, n_votes = codes[rows], 0
            if len(np.unique(labels)) < 2:
                raise GalcatError(f"{store_path}: scheme {scheme!r} has fewer than 2 labelled classes")
        if len(rows) == 0:
            raise GalcatError(f"{store_path}: no usable rows for --stage {stage} (of {n})")
        return TrainingData(
            store_path=str(store_path),
            scheme=scheme,
            class_names=class_names,
            rows=rows.astype(np.int64),
            labels=labels,
            n_votes=n_votes,
            fingerprint=str(store.fingerprint),
            image_size=int(store.image_shape[0]),
            mirror_pairs=mirror_pairs(class_names, declared) if scheme is not None else [],
        )
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def make_batches(
    data_or_path,
    indices: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
    scheme: str | None,
    votes: bool = False,
    drop_last: bool = False,
    m_per_class: int | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
    balance_power: float = 0.0,
):
    """An iterable of batch dicts (``images`` uint8 BHWC, ``labels``, ``targets``, ``index``).

    ``balance_power`` > 0 (with ``shuffle``) draws class-balanced batches (``galcat.store.loader``).
    """
    from galcat.store.loader import make_loader

    store_path = data_or_path.store_path if isinstance(data_or_path, TrainingData) else str(data_or_path)
    return make_loader(
        store_path,
        np.sort(np.asarray(indices, dtype=np.int64)),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        num_workers=num_workers,
        label_scheme=scheme,
        target="votes" if votes else None,
        drop_last=drop_last,
        m_per_class=m_per_class,
        pin_memory=pin_memory,
        class_balance=balance_power if shuffle else 0.0,
    )


def make_augment(
    image_size: int,
    train: bool,
    flips: bool = True,
    rot90: bool = True,
    max_angle: float = 0.0,
    mirror_pairs=(),
):
    """The on-device BatchAugment: uint8 BHWC -> normalised float BCHW.

    ``mirror_pairs`` (of a handed scheme) refuse flips: a reflection would change those labels.
    """
    from galcat.store.augment import BatchAugment

    if flips and train and mirror_pairs:
        raise GalcatError(f"flips would exchange the labels {', '.join('/'.join(p) for p in mirror_pairs)}")
    return BatchAugment(
        image_size=image_size,
        train=train,
        flips=flips and train,
        rot90=rot90 and train,
        max_angle=max_angle if train else 0.0,
        normalize=True,
    )


class MirrorRelabel:
    """Mirror half of a batch and give each mirrored galaxy its mirror class (cw <-> acw).

    Why: a handed scheme cannot use plain flips, but a reflected clockwise spiral *is* an
    anticlockwise one. Relabelled mirrors double the examples of each handed class and teach the
    network that only the winding separates them. Classes outside the pairs keep their labels.
    Works on the uint8 (B,H,W,3) batch before :class:`BatchAugment` (whose rotations keep handedness).
    """

    def __init__(self, class_names, pairs, p: float = 0.5):
        import torch

        index = {name: i for i, name in enumerate(class_names)}
        swap = torch.arange(len(class_names))
        for a, b in pairs:
            swap[index[a]], swap[index[b]] = index[b], index[a]
        self.swap = swap
        self.p = float(p)

    def __call__(self, batch: dict) -> dict:
        import torch

        images, labels = batch["images"], batch["labels"]
        mirror = torch.rand(images.shape[0], device=images.device) < self.p
        flipped = torch.where(mirror.view(-1, 1, 1, 1), images.flip(2), images)
        swap = self.swap.to(labels.device)
        relabelled = torch.where(mirror & (labels >= 0), swap[labels.clamp(min=0)], labels)
        return {**batch, "images": flipped, "labels": relabelled}
