"""Label noise with a known rate: a "crowd" catalogue made from an "expert" one.

Why: the paper's second claim is that crowd labels (GZ2-H) behave differently from expert labels
(EFIGI). With a synthetic expert store and a copy whose labels were flipped at a known rate,
``galcat audit`` and ``galcat reproduce`` can be checked against a truth that is known exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Column

from galcat.errors import GalcatError


def flip_labels(labels: Sequence[str], rate: float, classes: Sequence[str], seed: int = 0):
    """Each label is replaced, with probability ``rate``, by a different class drawn uniformly.

    Returns ``(noisy_labels, flipped)``: an object array of class names and a boolean mask of the
    rows that changed, so the realised noise rate is ``flipped.mean()``.
    """
    from galcat.ranges import bound, check_number

    check_number(rate, "label noise rate (--rate)", **bound("probability"))
    classes = list(classes)
    if len(classes) < 2:
        raise GalcatError("label noise needs at least two classes")
    labels = np.asarray(labels, dtype=object)
    unknown = sorted({str(v) for v in labels} - set(classes))
    if unknown:
        raise GalcatError(f"label noise: labels {unknown[:3]} are not among the classes {classes}")
    rng = np.random.default_rng([int(seed), 0xC0D])
    flipped = rng.random(len(labels)) < float(rate)
    noisy = labels.copy()
    index = {c: i for i, c in enumerate(classes)}
    # a uniform draw among the K-1 other classes: shift by 1..K-1 modulo K
    shift = rng.integers(1, len(classes), len(labels))
    for row in np.flatnonzero(flipped):
        noisy[row] = classes[(index[labels[row]] + shift[row]) % len(classes)]
    return noisy, flipped


def make_noisy_store(
    source, path, rate: float, scheme: str = "hubble9", seed: int = 0, overwrite: bool = False
) -> Path:
    """Copy store ``source`` to ``path`` with the ``scheme`` labels flipped at ``rate``.

    Images, positions and ids are unchanged (the same galaxies, relabelled); the catalogue keeps
    the original label in ``<scheme>_expert`` and a boolean ``label_flipped`` column.
    """
    from galcat.paths import check_replaceable, check_writable
    from galcat.ranges import bound, check_number
    from galcat.store import open_store, write_store

    check_number(rate, "label noise rate (--rate)", **bound("probability"))
    check_number(seed, "--seed", **bound("seed"))
    path = Path(path)
    check_writable(path, kind="file")
    if path.exists() and not overwrite:
        raise GalcatError(f"{path}: store exists; pass --overwrite to replace it")
    if overwrite:
        check_replaceable(path, "store")
    with open_store(source) as store:
        table = store.catalogue.copy()
        images = store.read_images(slice(0, len(store)))
        config = dict(store.config)
        classes = store.class_names(scheme) if scheme in store.schemes else None
        codes = store.label_codes(scheme) if classes else None
    if classes is None:
        raise GalcatError(f"{source}: no label scheme {scheme!r} to add noise to")
    labelled = codes >= 0
    labels = np.array([classes[c] for c in codes[labelled]], dtype=object)
    noisy, flipped = flip_labels(labels, rate, classes, seed)
    new = np.array([str(v) for v in np.ma.filled(np.ma.asarray(table[scheme]).astype(str), "")], dtype=object)
    new[labelled] = noisy
    was_flipped = np.zeros(len(table), dtype=bool)
    was_flipped[labelled] = flipped
    table[f"{scheme}_expert"] = table[scheme]
    table[scheme] = Column(new.astype(str), description=f"{scheme} with labels flipped at rate {rate}")
    table["label_flipped"] = Column(was_flipped, description="label differs from the expert label")
    table.meta["label_noise"] = {"source": str(source), "rate": float(rate), "seed": int(seed),
                                 "realised_rate": float(flipped.mean()) if len(flipped) else 0.0}  # fmt: skip
    config.update(label_noise=table.meta["label_noise"])
    return write_store(path, table, images, config=config, overwrite=overwrite)
