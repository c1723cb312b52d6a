"""Label schemes whose classes a mirror image exchanges (handedness), so augmentation must not flip.

A reflection turns a clockwise spiral into an anticlockwise one: Galaxy Zoo 1 labels the winding
direction (``spiral_cw`` / ``spiral_acw``; Lintott et al. 2008), so a flipped training image
would carry the wrong label. Rotations keep handedness and stay allowed. A scheme is handed when
its class names contain a known mirror pair, or when the store declares pairs itself
(``labels/<scheme>`` attribute ``mirror_pairs``, a JSON list of two-name lists).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

#: Class-name pairs that a reflection exchanges, in the spellings of public catalogues.
KNOWN_MIRROR_PAIRS: tuple[tuple[str, str], ...] = (
    ("spiral_cw", "spiral_acw"),  # Galaxy Zoo 1 class names
    ("cw", "acw"),
    ("clockwise", "anticlockwise"),
    ("z_wise", "s_wise"),
)


def mirror_pairs(class_names: Sequence[str], declared=None) -> list[tuple[str, str]]:
    """The class pairs of a scheme that a reflection exchanges (empty: flips keep every label).

    ``declared`` is what a store records (JSON text or a list of pairs); it adds to the known
    pairs. Names are compared case-insensitively; the scheme's own spelling is returned.
    """
    by_lower = {str(c).lower(): str(c) for c in class_names}
    candidates: list[Iterable[str]] = list(KNOWN_MIRROR_PAIRS)
    if declared:
        candidates += json.loads(declared) if isinstance(declared, (str, bytes)) else list(declared)
    found = []
    for pair in candidates:
        a, b = (str(x).lower() for x in pair)
        if a in by_lower and b in by_lower and (by_lower[a], by_lower[b]) not in found:
            found.append((by_lower[a], by_lower[b]))
    return found
