"""Synthetic catalogues (standard table layout) and stores built from rendered galaxies.

Why: every later stage (store, loader, training, evaluation, outputs) can then be exercised end
to end offline, with known labels, in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat.errors import GalcatError
from galcat.schemes.classes import HUBBLE9, HUBBLE11, collapse_11_to_9
from galcat.synth.render import SYNTH_CLASSES, render_galaxy
from galcat.synth.votes import GZ2_VOTE_COLUMNS, synthetic_votes
from galcat.tables import annotate_position_columns

CITATION = "galcat synthetic galaxies (rendered toy models; no observational data)"


def _check_classes(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str):
        classes = [classes]
    classes = list(dict.fromkeys(str(c) for c in classes))
    if not classes:
        raise GalcatError("synthetic catalogue: no classes given")
    unknown = [c for c in classes if c not in SYNTH_CLASSES]
    if unknown:
        raise GalcatError(f"synthetic catalogue: unknown class {unknown[0]!r}; use {list(SYNTH_CLASSES)}")
    return classes


@dataclass
class SynthStoreConfig:
    """``galcat synth store``: a small labelled store that trains in seconds on a CPU."""

    out: str
    classes: str = "hubble9"  #: hubble9, hubble11 or a comma list of classes (see :func:`class_list`)
    n_per_class: int = 40
    size: int = 32
    seed: int = 0
    overwrite: bool = False


def synth_store(cfg: SynthStoreConfig) -> Path:
    """:func:`make_synthetic_store` of ``cfg`` (checked before anything is rendered)."""
    return make_synthetic_store(cfg.out, cfg.classes, cfg.n_per_class, cfg.size, cfg.seed, cfg.overwrite)


def check_synthetic_sizes(n_per_class, size, seed) -> None:
    """The image-side bound of ``galcat build`` (from 8 px, the renderer's least) and the shared counts."""
    from galcat.ranges import bound, check_number

    check_number(n_per_class, "--n-per-class", **bound("per_class"))
    check_number(size, "--size", **bound("image_side", low=8))  # the renderer needs 8 px
    check_number(seed, "--seed", **bound("seed"))


def synthetic_catalogue_and_images(
    classes: Sequence[str] = HUBBLE9,
    n_per_class: int = 20,
    size: int = 75,
    seed: int = 0,
    votes: bool = True,
) -> tuple[Table, np.ndarray]:
    """``n_per_class`` galaxies of each class, rows in a seeded random order; deterministic.

    The table follows the standard catalogue layout: ``objid`` ('SYN000001'...), ICRS ``ra``/``dec``
    (uniform on the sky), ``hubble9`` always, ``hubble11`` when a HUBBLE11-only class (E0, E3-5,
    E7) is asked for (masked for plain 'E'), ``label_reason`` '', ``render_seed`` and, with
    ``votes``, the 37 GZ2 vote-fraction columns named in ``meta['vote_columns']``.
    """
    classes = _check_classes(classes)
    check_synthetic_sizes(n_per_class, size, seed)
    rng = np.random.default_rng([int(seed), 0x5E7C])
    labels = np.repeat(np.array(classes, dtype=object), int(n_per_class))[
        rng.permutation(len(classes) * n_per_class)
    ]
    n = len(labels)
    render_seeds = rng.integers(0, 2**62, n)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, (label, render_seed) in enumerate(zip(labels, render_seeds, strict=True)):
        images[i] = render_galaxy(label, int(render_seed), size)

    table = Table()
    table["objid"] = Column([f"SYN{i + 1:06d}" for i in range(n)], description="synthetic object id")
    table["ra"] = Column(rng.uniform(0.0, 360.0, n), unit=u.deg, description="right ascension (ICRS)")
    table["dec"] = Column(
        np.rad2deg(np.arcsin(rng.uniform(-1.0, 1.0, n))), unit=u.deg, description="declination (ICRS)"
    )
    annotate_position_columns(table)
    table["hubble9"] = Column([collapse_11_to_9(c) if c in HUBBLE11 else c for c in labels], dtype=str)
    schemes = {"hubble9": list(HUBBLE9)}
    if any(c in HUBBLE11 and c not in HUBBLE9 for c in classes):
        h11 = [c if c in HUBBLE11 else "" for c in labels]
        table["hubble11"] = MaskedColumn(h11, mask=[c == "" for c in h11], dtype=str)
        schemes["hubble11"] = list(HUBBLE11)
    table["label_reason"] = Column([""] * n, dtype=str)
    table["render_seed"] = Column(render_seeds.astype(np.int64), description="seed given to render_galaxy")
    table["synthetic_class"] = Column(labels.astype(str), description="class rendered")
    table.meta.update(
        catalogue="synthetic",
        citation=CITATION,
        label_rule="synthetic",
        label_params={
            "classes": classes,
            "n_per_class": int(n_per_class),
            "size": int(size),
            "seed": int(seed),
        },
        label_schemes=schemes,
        image_key="objid",
    )
    if votes:
        fractions = np.stack([synthetic_votes(c, rng) for c in labels]) if n else np.empty((0, 37))
        for j, name in enumerate(GZ2_VOTE_COLUMNS):
            table[name] = Column(fractions[:, j].astype(np.float32))
        table.meta["vote_columns"] = list(GZ2_VOTE_COLUMNS)
    from galcat import __version__

    table.meta["galcat_version"] = __version__
    return table, images


def class_list(classes: Sequence[str] | str) -> list[str]:
    """A scheme name (``hubble9``, ``hubble11``), a comma-separated list, or a sequence of classes."""
    if isinstance(classes, str):
        from galcat.schemes import SCHEMES

        return list(SCHEMES.get(classes) or [c.strip() for c in classes.split(",") if c.strip()])
    return list(classes)


def make_synthetic_store(
    path,
    classes: Sequence[str] | str = HUBBLE9,
    n_per_class: int = 20,
    size: int = 75,
    seed: int = 0,
    overwrite: bool = False,
    votes: bool = True,
) -> Path:
    """Render a synthetic catalogue and write it as a galcat HDF5 store (atomically) at ``path``.

    ``classes``: see :func:`class_list`.
    """
    from galcat.paths import check_replaceable, check_writable
    from galcat.store import write_store

    classes = class_list(classes)
    check_synthetic_sizes(n_per_class, size, seed)
    path = Path(path)
    check_writable(path, kind="file")
    if path.exists() and not overwrite:
        raise GalcatError(f"{path}: store exists; pass overwrite=True to replace it")
    if overwrite:
        check_replaceable(path, "store")  # before rendering: only a galcat store is replaced
    table, images = synthetic_catalogue_and_images(classes, n_per_class, size=size, seed=seed, votes=votes)
    provenance = {
        "source": [
            f"synthetic:{c}:{s}" for c, s in zip(table["synthetic_class"], table["render_seed"], strict=True)
        ]
    }
    config = {"builder": "galcat.synth", **table.meta["label_params"]}
    return write_store(path, table, images, config=config, overwrite=overwrite, provenance=provenance)
