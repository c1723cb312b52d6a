"""The paper's Hubble class schemes, in the paper's (pandas lexicographic) column order."""

from __future__ import annotations

import numpy as np

#: 9-class scheme (EFIGI, GZ2-H-9, RSA-9). 'SB*' sorts before 'S[abc]' because 'B' < 'a'.
HUBBLE9: tuple[str, ...] = ("E", "Irr", "S0", "SBa", "SBb", "SBc", "Sa", "Sb", "Sc")
#: 11-class scheme (GZ2-H, RSA).
HUBBLE11: tuple[str, ...] = ("E0", "E3-5", "E7", "Irr", "S0", "SBa", "SBb", "SBc", "Sa", "Sb", "Sc")

SCHEMES: dict[str, tuple[str, ...]] = {"hubble9": HUBBLE9, "hubble11": HUBBLE11}

_E11 = {"E0", "E3-5", "E7"}


def collapse_11_to_9(label: str | None) -> str | None:
    """Map an 11-class label to the 9-class scheme (E0/E3-5/E7 -> E); ``None`` stays ``None``."""
    if label is None:
        return None
    if label in _E11:
        return "E"
    if label not in HUBBLE11:
        raise ValueError(f"not a hubble11 class: {label!r}")
    return label


def encode(labels, classes) -> np.ndarray:
    """Integer codes for labels in ``classes`` order; missing/masked/unknown labels -> -1."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.full(len(labels), -1, dtype=np.int64)
    mask = np.ma.getmaskarray(labels) if np.ma.isMaskedArray(labels) else np.zeros(len(labels), bool)
    for i, (lab, m) in enumerate(zip(labels, mask, strict=True)):
        if not m and lab is not None:
            out[i] = index.get(str(lab), -1)
    return out
