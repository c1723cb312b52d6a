"""Deterministic synthetic galaxies per Hubble class, synthetic catalogues and stores (offline tests, demos).

API (docs/architecture.md, "Synthetic galaxies")::

    img = render_galaxy("SBb", seed=3, size=75)                       # uint8 (75, 75, 3)
    table, images = synthetic_catalogue_and_images(HUBBLE9, n_per_class=20)
    make_synthetic_store("synth.h5", HUBBLE9, n_per_class=20)
"""

from galcat.synth.catalogue import make_synthetic_store, synthetic_catalogue_and_images
from galcat.synth.render import SYNTH_CLASSES, render_galaxy
from galcat.synth.votes import GZ2_VOTE_COLUMNS, synthetic_votes

__all__ = [
    "GZ2_VOTE_COLUMNS",
    "SYNTH_CLASSES",
    "make_synthetic_store",
    "render_galaxy",
    "synthetic_catalogue_and_images",
    "synthetic_votes",
]
