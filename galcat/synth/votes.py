"""Plausible GZ2-style vote fractions for synthetic galaxies, so the 37-output votes stage can be tested.

Each GZ2 task's answer fractions are drawn from a Dirichlet around a per-class mean (Hart16
``_fraction`` columns are per question, so each task sums to 1): ellipticals vote "smooth",
barred spirals "bar", Sc "loose arms", Irr "odd: irregular", and so on.
"""

from __future__ import annotations

import numpy as np

#: The 37 Hart+2016 / Willett+2013 per-answer ``_fraction`` columns, in t01..t11 order.
GZ2_VOTE_COLUMNS: tuple[str, ...] = (
    "t01_smooth_or_features_a01_smooth_fraction",
    "t01_smooth_or_features_a02_features_or_disk_fraction",
    "t01_smooth_or_features_a03_star_or_artifact_fraction",
    "t02_edgeon_a04_yes_fraction",
    "t02_edgeon_a05_no_fraction",
    "t03_bar_a06_bar_fraction",
    "t03_bar_a07_no_bar_fraction",
    "t04_spiral_a08_spiral_fraction",
    "t04_spiral_a09_no_spiral_fraction",
    "t05_bulge_prominence_a10_no_bulge_fraction",
    "t05_bulge_prominence_a11_just_noticeable_fraction",
    "t05_bulge_prominence_a12_obvious_fraction",
    "t05_bulge_prominence_a13_dominant_fraction",
    "t06_odd_a14_yes_fraction",
    "t06_odd_a15_no_fraction",
    "t07_rounded_a16_completely_round_fraction",
    "t07_rounded_a17_in_between_fraction",
    "t07_rounded_a18_cigar_shaped_fraction",
    "t08_odd_feature_a19_ring_fraction",
    "t08_odd_feature_a20_lens_or_arc_fraction",
    "t08_odd_feature_a21_disturbed_fraction",
    "t08_odd_feature_a22_irregular_fraction",
    "t08_odd_feature_a23_other_fraction",
    "t08_odd_feature_a24_merger_fraction",
    "t08_odd_feature_a38_dust_lane_fraction",
    "t09_bulge_shape_a25_rounded_fraction",
    "t09_bulge_shape_a26_boxy_fraction",
    "t09_bulge_shape_a27_no_bulge_fraction",
    "t10_arms_winding_a28_tight_fraction",
    "t10_arms_winding_a29_medium_fraction",
    "t10_arms_winding_a30_loose_fraction",
    "t11_arms_number_a31_1_fraction",
    "t11_arms_number_a32_2_fraction",
    "t11_arms_number_a33_3_fraction",
    "t11_arms_number_a34_4_fraction",
    "t11_arms_number_a36_more_than_4_fraction",
    "t11_arms_number_a37_cant_tell_fraction",
)
TASK_SIZES: tuple[int, ...] = (3, 2, 2, 2, 4, 2, 3, 7, 3, 3, 6)

_SPIRAL = {
    "t01": (0.15, 0.83, 0.02),
    "t02": (0.08, 0.92),
    "t03": (0.08, 0.92),
    "t04": (0.85, 0.15),
    "t06": (0.12, 0.88),
    "t07": (0.3, 0.55, 0.15),
    "t08": (0.3, 0.1, 0.1, 0.05, 0.35, 0.05, 0.05),
    "t09": (0.6, 0.1, 0.3),
    "t11": (0.05, 0.6, 0.12, 0.05, 0.03, 0.15),
}
_ELLIPTICAL = {
    **_SPIRAL,
    "t01": (0.85, 0.13, 0.02),
    "t02": (0.05, 0.95),
    "t04": (0.05, 0.95),
    "t05": (0.02, 0.1, 0.38, 0.5),
    "t09": (0.7, 0.1, 0.2),
    "t10": (0.33, 0.34, 0.33),
    "t11": (0.1, 0.2, 0.1, 0.05, 0.05, 0.5),
}
_MEANS: dict[str, dict[str, tuple[float, ...]]] = {
    "E": {**_ELLIPTICAL, "t07": (0.4, 0.45, 0.15)},
    "E0": {**_ELLIPTICAL, "t07": (0.85, 0.13, 0.02)},
    "E3-5": {**_ELLIPTICAL, "t07": (0.15, 0.75, 0.1)},
    "E7": {**_ELLIPTICAL, "t02": (0.2, 0.8), "t07": (0.03, 0.27, 0.7)},
    "S0": {
        **_ELLIPTICAL,
        "t01": (0.55, 0.43, 0.02),
        "t02": (0.15, 0.85),
        "t04": (0.1, 0.9),
        "t05": (0.03, 0.17, 0.5, 0.3),
        "t07": (0.3, 0.6, 0.1),
        "t09": (0.8, 0.12, 0.08),
    },
    "Sa": {**_SPIRAL, "t01": (0.3, 0.68, 0.02), "t04": (0.7, 0.3), "t05": (0.05, 0.2, 0.5, 0.25)},
    "Sb": {**_SPIRAL, "t05": (0.1, 0.45, 0.4, 0.05)},
    "Sc": {**_SPIRAL, "t01": (0.1, 0.88, 0.02), "t04": (0.9, 0.1), "t05": (0.35, 0.5, 0.13, 0.02)},
    "Irr": {
        **_SPIRAL,
        "t01": (0.3, 0.65, 0.05),
        "t04": (0.25, 0.75),
        "t05": (0.6, 0.3, 0.08, 0.02),
        "t06": (0.7, 0.3),
        "t08": (0.03, 0.03, 0.25, 0.55, 0.08, 0.04, 0.02),
        "t11": (0.1, 0.2, 0.1, 0.05, 0.05, 0.5),
    },
}
_WINDING = {"a": (0.65, 0.3, 0.05), "b": (0.25, 0.55, 0.2), "c": (0.07, 0.33, 0.6)}
_MEANS["Irr"]["t10"] = (0.33, 0.34, 0.33)
for _stage, _winding in _WINDING.items():
    _MEANS["S" + _stage]["t10"] = _winding
    _MEANS["SB" + _stage] = {
        **_MEANS["S" + _stage],
        "t03": (0.75, 0.25),
        "t11": (0.03, 0.75, 0.07, 0.03, 0.02, 0.1),
    }


def synthetic_votes(hubble_class: str, rng: np.random.Generator, concentration: float = 20.0) -> np.ndarray:
    """37 vote fractions (float64, each task summing to 1) for one galaxy of ``hubble_class``."""
    means = _MEANS[hubble_class]
    out = []
    for task, size in enumerate(TASK_SIZES, start=1):
        mean = np.asarray(means[f"t{task:02d}"], dtype=float)
        assert len(mean) == size, (hubble_class, task)
        out.append(rng.dirichlet(concentration * mean / mean.sum()))
    return np.concatenate(out)
