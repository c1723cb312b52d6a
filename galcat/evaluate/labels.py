"""Label codes of one scheme re-expressed in a model's scheme, by class name."""

from __future__ import annotations

import numpy as np

from galcat.errors import GalcatError
from galcat.schemes import HUBBLE9, HUBBLE11, collapse_11_to_9


def align_codes(codes, from_classes, to_classes, source: str = "labels") -> np.ndarray:
    """Re-express label codes of one scheme in another (by class name; -1 stays -1).

    hubble11 -> hubble9 collapses E0/E3-5/E7 to E (RSA hubble11 queries against an EFIGI
    hubble9 model). Any other class missing from ``to_classes`` is an error.
    """
    from_classes, to_classes = list(from_classes), list(to_classes)
    collapse = tuple(from_classes) == HUBBLE11 and tuple(to_classes) == HUBBLE9
    target = {c: i for i, c in enumerate(to_classes)}
    mapping = np.full(len(from_classes) + 1, -1, dtype=np.int64)  # last slot maps -1 -> -1
    for i, name in enumerate(from_classes):
        mapped = collapse_11_to_9(name) if collapse else name
        if mapped not in target:
            raise GalcatError(
                f"{source}: class {name!r} has no counterpart among the model's classes {to_classes}"
            )
        mapping[i] = target[mapped]
    codes = np.asarray(codes, dtype=np.int64)
    return mapping[np.where(codes < 0, len(from_classes), codes)]
