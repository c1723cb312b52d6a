"""Synthetic galaxies: determinism, class signatures a model can learn, standard tables, stores."""

from __future__ import annotations

import numpy as np
import pytest

from galcat.errors import GalcatError
from galcat.schemes.classes import HUBBLE9, HUBBLE11
from galcat.synth import (
    GZ2_VOTE_COLUMNS,
    SYNTH_CLASSES,
    make_synthetic_store,
    render_galaxy,
    synthetic_catalogue_and_images,
)
from galcat.synth.votes import TASK_SIZES

SIZE = 48


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    k = np.exp(-0.5 * (np.arange(-6, 7) / sigma) ** 2)
    k /= k.sum()
    a = np.apply_along_axis(np.convolve, 0, a, k, mode="same")
    return np.apply_along_axis(np.convolve, 1, a, k, mode="same")


def _axis_ratio(weights: np.ndarray) -> float:
    """sqrt of the eigenvalue ratio of the second moments of a (non-negative) weight map."""
    n = weights.shape[0]
    y, x = np.mgrid[:n, :n] + 0.5
    w = weights / weights.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    cov = [[(w * (x - mx) ** 2).sum(), (w * (x - mx) * (y - my)).sum()]]
    cov.append([cov[0][1], (w * (y - my) ** 2).sum()])
    low, high = np.linalg.eigvalsh(cov)
    return float(np.sqrt(low / high))


def _lum(img: np.ndarray) -> np.ndarray:
    return img.astype(float).sum(-1)


def _isophote_q(img: np.ndarray, level: float) -> float:
    lum = _lum(img)
    return _axis_ratio((lum > level * lum.max()).astype(float))


def _arm_power(img: np.ndarray) -> float:
    """Band-pass residual in the disc annulus: small-scale structure such as spiral arms."""
    g = img.astype(float).mean(-1)
    n = g.shape[0]
    y, x = np.mgrid[:n, :n] + 0.5 - n / 2
    r = np.hypot(x, y) / (n / 2)
    ring = (r > 0.15) & (r < 0.7) & (_blur(g, 3.0) > 20)
    return float(np.abs(_blur(g, 1.0) - _blur(g, 3.0))[ring].mean())


def test_render_is_deterministic_any_size_and_uint8():
    for cls in SYNTH_CLASSES:
        a = render_galaxy(cls, 7, SIZE)
        assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE, 3) and a.flags.c_contiguous
        assert a.tobytes() == render_galaxy(cls, 7, SIZE).tobytes()
        assert not np.array_equal(a, render_galaxy(cls, 8, SIZE))
        assert a.max() > 200 and np.median(a) < 30  # bright galaxy on a dark sky
    assert render_galaxy("Sb", 1, 33).shape == (33, 33, 3)
    assert render_galaxy("Sb", 1, 101).shape == (101, 101, 3)
    assert not np.array_equal(render_galaxy("Sb", 1, 48), render_galaxy("Sa", 1, 48))


def test_render_rejects_bad_input():
    with pytest.raises(GalcatError, match="unknown Hubble class 'Sd'"):
        render_galaxy("Sd", 0)
    with pytest.raises(GalcatError, match="seed"):
        render_galaxy("E", -1)
    with pytest.raises(GalcatError, match="size"):
        render_galaxy("E", 0, size=4)


def test_elliptical_axis_ratios_follow_the_class():
    def mean_q(cls):
        qs = []
        for s in range(12):
            lum = _lum(render_galaxy(cls, s, SIZE))
            qs.append(_axis_ratio(np.clip(lum - np.median(lum), 0, None)))
        return np.mean(qs)

    e0, e35, e7 = mean_q("E0"), mean_q("E3-5"), mean_q("E7")
    assert e0 > 0.85 and 0.5 < e35 < 0.75 and e7 < 0.5


def test_spirals_have_arm_power_and_ellipticals_none():
    smooth = [_arm_power(render_galaxy(c, s, 64)) for c in ("E0", "E3-5", "S0") for s in range(10)]
    spiral = [_arm_power(render_galaxy(c, s, 64)) for c in ("Sb", "Sc") for s in range(10)]
    assert max(smooth) < min(spiral)
    assert np.mean(smooth) < 0.35 * np.mean(spiral)


def test_barred_spirals_have_elongated_centres():
    def core_vs_outer(cls):
        return np.mean(
            [
                _isophote_q(i, 0.7) / _isophote_q(i, 0.15)
                for i in (render_galaxy(cls, s, 64) for s in range(20))
            ]
        )

    barred = np.mean([core_vs_outer(c) for c in ("SBa", "SBb", "SBc")])
    plain = np.mean([core_vs_outer(c) for c in ("Sa", "Sb", "Sc")])
    assert barred < plain - 0.1


def test_bulges_are_redder_than_discs():
    def red_over_blue(cls):
        imgs = np.stack([render_galaxy(cls, s, SIZE) for s in range(8)]).astype(float)
        bright = imgs.sum(-1) > 100
        return imgs[..., 0][bright].sum() / imgs[..., 2][bright].sum()

    assert red_over_blue("E0") > red_over_blue("S0") > 1.1 > red_over_blue("Sa") > red_over_blue("Sc")


def test_pixels_classifier_separates_three_classes():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = ["E0", "E7", "Sc"]
    table, images = synthetic_catalogue_and_images(classes, 60, size=32, seed=3, votes=False)
    y = np.array([classes.index(c) for c in table["synthetic_class"]])
    x = images.reshape(len(images), 16, 2, 16, 2, 3).mean((2, 4)).reshape(len(images), -1) / 255.0
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    clf.fit(x[:120], y[:120])
    assert clf.score(x[120:], y[120:]) >= 0.75  # chance is 0.33


def test_catalogue_follows_the_standard_layout():
    table, images = synthetic_catalogue_and_images(["E0", "E", "SBb", "Irr"], 5, size=32, seed=2)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    assert list(table["objid"][:2]) == ["SYN000001", "SYN000002"]
    assert len(set(table["objid"])) == 20
    assert str(table["ra"].unit) == "deg" and table["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert table["dec"].meta["ucd"] == "pos.eq.dec;meta.main"
    assert (0 <= table["ra"]).all() and (table["ra"] < 360).all() and (np.abs(table["dec"]) <= 90).all()
    assert table.meta["catalogue"] == "synthetic" and table.meta["label_schemes"] == {
        "hubble9": list(HUBBLE9),
        "hubble11": list(HUBBLE11),
    }
    assert sorted(set(table["hubble9"])) == ["E", "Irr", "SBb"]
    e_rows = table["synthetic_class"] == "E"
    assert table["hubble11"].mask[e_rows].all() and not table["hubble11"].mask[~e_rows].any()
    assert set(table["hubble11"][table["synthetic_class"] == "E0"]) == {"E0"}
    assert set(table["label_reason"]) == {""}
    for row, img in zip(table[:4], images[:4], strict=True):
        assert np.array_equal(img, render_galaxy(row["synthetic_class"], int(row["render_seed"]), 32))
    again, images2 = synthetic_catalogue_and_images(["E0", "E", "SBb", "Irr"], 5, size=32, seed=2)
    assert np.array_equal(images, images2) and list(again["ra"]) == list(table["ra"])
    nine, _ = synthetic_catalogue_and_images(["E", "Sa"], 2, size=16)
    assert "hubble11" not in nine.colnames and list(nine.meta["label_schemes"]) == ["hubble9"]
    with pytest.raises(GalcatError, match="unknown class 'Sd'"):
        synthetic_catalogue_and_images(["E", "Sd"], 2)


def test_vote_fractions_are_plausible_per_class():
    table, _ = synthetic_catalogue_and_images(["E", "Sc", "SBb", "Irr"], 30, size=16, seed=4)
    assert table.meta["vote_columns"] == list(GZ2_VOTE_COLUMNS) and len(GZ2_VOTE_COLUMNS) == 37
    votes = np.stack([np.asarray(table[c], float) for c in GZ2_VOTE_COLUMNS], axis=1)
    bounds = np.cumsum((0, *TASK_SIZES))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        np.testing.assert_allclose(votes[:, lo:hi].sum(1), 1.0, atol=1e-5)

    def mean(cls, column):
        return np.asarray(table[column])[table["synthetic_class"] == cls].mean()

    smooth, bar = GZ2_VOTE_COLUMNS[0], "t03_bar_a06_bar_fraction"
    assert mean("E", smooth) > 0.7 > 0.3 > mean("Sc", smooth)
    assert mean("SBb", bar) > 0.6 > 0.2 > mean("Sc", bar)
    assert mean("Irr", "t08_odd_feature_a22_irregular_fraction") > 0.4
    assert mean("Sc", "t10_arms_winding_a30_loose_fraction") > mean(
        "SBb", "t10_arms_winding_a30_loose_fraction"
    )


def test_make_synthetic_store_round_trips(tmp_path):
    from galcat.store import open_store

    path = make_synthetic_store(tmp_path / "s.h5", ["E0", "Sa", "SBc"], 4, size=24, seed=5)
    table, images = synthetic_catalogue_and_images(["E0", "Sa", "SBc"], 4, size=24, seed=5)
    store = open_store(path)
    assert len(store) == 12 and store.image_shape == (24, 24, 3)
    assert np.array_equal(store.read_images(slice(None)), images)
    codes = store.label_codes("hubble11")
    assert [store.class_names("hubble11")[c] for c in codes] == list(table["hubble11"])
    assert store.targets("votes").shape == (12, 37)
    assert list(store.catalogue["objid"]) == list(table["objid"])
    with pytest.raises(GalcatError, match="exists"):
        make_synthetic_store(path, ["E0"], 1, size=24)
    make_synthetic_store(path, ["E0"], 2, size=24, overwrite=True)
    assert len(open_store(path)) == 2
