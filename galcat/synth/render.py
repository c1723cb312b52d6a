"""Deterministic, vectorised renderer of toy galaxies, one look per Hubble class.

Why: tests, demos and benchmarks need labelled galaxy images without network or real archives,
and the classes must differ in the ways the paper's classes differ (bulge-to-total, arm pitch,
bar, axis ratio, clumpiness) so that a model trained on them learns something checkable.
Geometry is drawn in units of the image half-width, so one seed gives the same galaxy at any size.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from dataclasses import dataclass

import numpy as np

from galcat.errors import GalcatError
from galcat.schemes.classes import HUBBLE9, HUBBLE11

#: Every class name the renderer knows (HUBBLE9 and HUBBLE11 together).
SYNTH_CLASSES: tuple[str, ...] = tuple(dict.fromkeys(HUBBLE11 + HUBBLE9))

# RGB colours (R~i, G~r, B~g like SDSS gri composites): old bulges red, young arms blue.
_BULGE_RGB = (1.0, 0.78, 0.55)
_BAR_RGB = (1.0, 0.74, 0.50)
_S0_DISC_RGB = (0.95, 0.80, 0.64)
_DISC_RGB = (0.80, 0.80, 0.86)
_IRR_RGB = (0.68, 0.72, 0.86)
_ARM_RGB = (0.62, 0.72, 1.0)
_KNOT_RGB = (0.55, 0.70, 1.0)
_STAR_RGB = (0.95, 0.93, 0.9)
_F32 = np.float32  # float32 throughout: numpy's SIMD exp/log/cos are faster in float32 than in float64


@dataclass(frozen=True)
class _Look:
    """Parameter ranges (low, high) of one class; lengths in image half-widths."""

    bulge_to_total: tuple[float, float] = (0.0, 0.0)
    sersic_n: tuple[float, float] = (2.0, 4.0)
    axis_ratio: tuple[float, float] | None = None  # ellipticals only
    pitch_deg: tuple[float, float] | None = None  # spiral arm pitch angle
    arm_contrast: float = 0.0
    arm_sharpness: float = 3.0
    knots: tuple[int, int] = (0, 0)
    bar: bool = False
    irregular: bool = False
    disc_rgb: tuple[float, float, float] = _DISC_RGB


_ELLIPTICAL = dict(bulge_to_total=(1.0, 1.0), sersic_n=(3.0, 5.0))
_LOOKS: dict[str, _Look] = {
    "E": _Look(**_ELLIPTICAL, axis_ratio=(0.3, 1.0)),
    "E0": _Look(**_ELLIPTICAL, axis_ratio=(0.88, 1.0)),
    "E3-5": _Look(**_ELLIPTICAL, axis_ratio=(0.5, 0.7)),
    "E7": _Look(**_ELLIPTICAL, axis_ratio=(0.28, 0.38)),
    "S0": _Look(bulge_to_total=(0.4, 0.6), sersic_n=(2.5, 4.0), disc_rgb=_S0_DISC_RGB),
    "Sa": _Look(bulge_to_total=(0.3, 0.45), pitch_deg=(8, 12), arm_contrast=0.55, arm_sharpness=4.0),
    "Sb": _Look(bulge_to_total=(0.12, 0.25), pitch_deg=(15, 20), arm_contrast=0.75, knots=(3, 8)),
    "Sc": _Look(
        bulge_to_total=(0.02, 0.08),
        sersic_n=(1.0, 2.0),
        pitch_deg=(24, 34),
        arm_contrast=0.85,
        arm_sharpness=2.0,
        knots=(8, 16),
    ),
    "Irr": _Look(bulge_to_total=(0.0, 0.03), sersic_n=(1.0, 1.5), knots=(8, 18), irregular=True),
}
for _stage in "abc":
    _LOOKS["SB" + _stage] = dataclasses.replace(_LOOKS["S" + _stage], bar=True)


def _class_look(hubble_class: str) -> _Look:
    try:
        return _LOOKS[hubble_class]
    except KeyError:
        raise GalcatError(
            f"unknown Hubble class {hubble_class!r} for synthetic galaxies; use one of {list(SYNTH_CLASSES)}"
        ) from None


def _sersic(r: np.ndarray, r_eff: float, n: float) -> np.ndarray:
    b_n = 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n)
    return np.exp(-b_n * (np.power(r * (1.0 / r_eff), 1.0 / n) - 1.0))


def _gaussian_blobs(gx, gy, cx, cy, sigma, flux) -> np.ndarray:
    """Sum of round Gaussian blobs on the sky grid (1-D axes gx, gy), separable: one matmul."""
    cx, cy, inv = (np.asarray(a, _F32)[:, None] for a in (cx, cy, 0.5 / np.square(sigma)))
    along_x = np.exp(-np.square(gx[None, :] - cx) * inv)
    along_y = np.exp(-np.square(gy[None, :] - cy) * inv)
    return (along_y.T * np.asarray(flux, _F32)) @ along_x


@functools.lru_cache(maxsize=256)
def _psf_matrix(size: int, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur as a (size, size) matrix: blurred = K @ img @ K.T (cached, read-only)."""
    offsets = np.arange(size, dtype=_F32)[:, None] - np.arange(size, dtype=_F32)[None, :]
    kernel = np.exp(-np.square(offsets) * _F32(0.5 / sigma_px**2))
    kernel /= kernel.sum(axis=1, keepdims=True)
    kernel.flags.writeable = False
    return kernel


@dataclass(frozen=True)
class _Frame:
    """Pixel grid of one image: sky axes (1-D), deprojected disc-plane coordinates, orientation."""

    gx: np.ndarray
    gy: np.ndarray
    xd: np.ndarray
    yd: np.ndarray
    pa: float
    cos_i: float

    def blobs(self, kx, ky, sigma, flux) -> np.ndarray:
        """Round blobs whose centres are given in the disc plane, drawn on the sky."""
        xr, yr = kx, ky * self.cos_i
        c, s = np.cos(self.pa), np.sin(self.pa)
        return _gaussian_blobs(self.gx, self.gy, xr * c - yr * s, xr * s + yr * c, sigma, flux)


def _disc_components(look: _Look, rng, frame: _Frame, h: float) -> list:
    """Disc-plane light as (map, rgb, weight): exponential disc, log-spiral arms, bar, star-forming knots."""
    xd, yd = frame.xd, frame.yd
    r = np.hypot(xd, yd)
    disc = np.exp(r * _F32(-1.0 / h))
    parts = []
    bar_angle = float(rng.uniform(0, np.pi))
    bar_len = float(rng.uniform(1.5, 2.1)) * h
    r_start = bar_len if look.bar else float(rng.uniform(0.3, 0.6)) * h
    if look.pitch_deg is not None:
        winding = 1.0 / np.tan(np.deg2rad(float(rng.uniform(*look.pitch_deg))))  # 1/tan(pitch)
        m = 2 if look.bar else int(rng.choice([2, 2, 2, 3, 4] if look.knots[1] > 8 else [2]))
        theta = np.arctan2(yd, xd)
        log_r = np.log(np.maximum(r, _F32(1e-3)) * _F32(1.0 / r_start))
        phase = (theta - _F32(bar_angle) - log_r * _F32(winding)) * _F32(m)
        wave = (_F32(0.5) + _F32(0.5) * np.cos(phase)) ** _F32(look.arm_sharpness)
        fade_in = np.clip((r - _F32(0.6 * r_start)) * _F32(1.0 / (0.6 * r_start)), 0.0, 1.0)
        arms = disc * wave * fade_in * _F32(look.arm_contrast / wave.mean())
        disc = disc * (_F32(1.0) - _F32(look.arm_contrast) * fade_in)
        parts.append((arms, _ARM_RGB, float(arms.sum() / disc.sum())))
        n_knots = int(rng.integers(*look.knots, endpoint=True)) if look.knots[1] else 0
        if n_knots:
            radius = r_start * np.exp(rng.uniform(0.0, 1.2, n_knots) * np.pi / winding)
            radius = np.minimum(radius, 3.5 * h)
            arm_no = rng.integers(0, m, n_knots)
            angle = bar_angle + np.log(radius / r_start) * winding + 2 * np.pi * arm_no / m
            sigma = rng.uniform(0.012, 0.025, n_knots)
            flux = rng.uniform(0.5, 1.0, n_knots) * np.exp(-radius / h)
            knots = frame.blobs(radius * np.cos(angle), radius * np.sin(angle), sigma, flux)
            parts.append((knots, _KNOT_RGB, 0.12))
    if look.bar:
        c, s = np.cos(bar_angle), np.sin(bar_angle)
        width = float(rng.uniform(0.2, 0.28)) * bar_len
        u = (xd * _F32(c) + yd * _F32(s)) * _F32(1.0 / bar_len)
        v = (yd * _F32(c) - xd * _F32(s)) * _F32(1.0 / width)
        bar = np.clip(_F32(1.0) - (u * u + v * v), 0.0, None) ** _F32(1.5)
        parts.append((bar, _BAR_RGB, float(rng.uniform(0.45, 0.7))))
    return [(disc, look.disc_rgb, 1.0), *parts]


def _irregular(rng, frame: _Frame, h: float, look: _Look) -> list:
    """Clumpy irregular: lopsided diffuse light plus many blue knots scattered off-centre."""
    off_x, off_y = (float(v) for v in rng.normal(0, 0.3 * h, 2))
    lopsided = np.exp(np.hypot(frame.xd - _F32(off_x), frame.yd - _F32(off_y)) * _F32(-1.0 / (1.4 * h)))
    n = int(rng.integers(*look.knots, endpoint=True))
    cx, cy = rng.normal(0, 1.1 * h, n), rng.normal(0, 0.8 * h, n)
    knots = frame.blobs(cx, cy, rng.uniform(0.015, 0.045, n), rng.uniform(0.3, 1.0, n))
    return [(lopsided, _IRR_RGB, 0.6), (knots, _KNOT_RGB, 0.3)]


def render_galaxy(hubble_class: str, seed: int, size: int = 75) -> np.ndarray:
    """One synthetic galaxy of ``hubble_class`` as ``uint8 (size, size, 3)``; same inputs, same bytes."""
    look = _class_look(hubble_class)
    if int(size) < 8:
        raise GalcatError(f"synthetic image size must be >= 8 px, got {size}")
    if int(seed) < 0:
        raise GalcatError(f"synthetic galaxy seed must be >= 0, got {seed}")
    size = int(size)
    rng = np.random.default_rng([int(seed), zlib.crc32(hubble_class.encode())])

    # Sky coordinates (half-width units), galaxy slightly off-centre, position angle, inclination.
    grid = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(_F32)
    x0, y0 = (float(v) for v in rng.normal(0.0, 0.02, 2))
    gx, gy = grid - _F32(x0), grid - _F32(y0)
    pa = float(rng.uniform(0.0, np.pi))
    c, s = _F32(np.cos(pa)), _F32(np.sin(pa))
    xr, yr = gx[None, :] * c + gy[:, None] * s, gy[:, None] * c - gx[None, :] * s
    soft2 = _F32(1.0 / size**2)  # half a pixel: keeps the Sersic cusp finite
    h = float(rng.uniform(0.15, 0.22))

    btt = float(rng.uniform(*look.bulge_to_total))
    n_bulge = float(rng.uniform(*look.sersic_n))
    if look.axis_ratio is not None:  # elliptical: a single Sersic spheroid
        q = float(rng.uniform(*look.axis_ratio))
        r_q = np.sqrt(xr * xr + np.square(yr * _F32(1.0 / q)) + soft2)
        parts = [(_sersic(r_q, float(rng.uniform(0.14, 0.26)), n_bulge), _BULGE_RGB, 1.0)]
    else:
        cos_i = float(rng.uniform(0.35, 1.0) if not look.irregular else rng.uniform(0.5, 1.0))
        frame = _Frame(gx, gy, xr, yr * _F32(1.0 / cos_i), pa, cos_i)
        if look.irregular:
            parts = _irregular(rng, frame, h, look)
        else:
            parts = _disc_components(look, rng, frame, h)
        disc_total = sum(weight for _, _, weight in parts)
        parts = [(light, rgb, (1.0 - btt) * weight / disc_total) for light, rgb, weight in parts]
        if btt > 0:
            q_b = float(rng.uniform(max(0.6, cos_i), 1.0))
            r_q = np.sqrt(xr * xr + np.square(yr * _F32(1.0 / q_b)) + soft2)
            parts.append((_sersic(r_q, float(rng.uniform(0.05, 0.09)), n_bulge), _BULGE_RGB, btt))

    # A few faint foreground stars, then PSF, sky noise and an asinh stretch like SDSS composites.
    n_stars = max(int(rng.integers(-1, 3)), 0)  # 0 (half the time), 1 or 2
    if n_stars:
        pos = rng.uniform(-0.9, 0.9, (2, n_stars))
        stars = _gaussian_blobs(grid, grid, pos[0], pos[1], np.full(n_stars, 1.0 / size), np.ones(n_stars))
        parts.append((stars, _STAR_RGB, float(rng.uniform(1e-3, 4e-3)) * float(stars.sum())))
    lights = np.stack(
        [light.ravel() * _F32(weight / max(float(light.sum()), 1e-30)) for light, _, weight in parts]
    )
    colours = np.array([rgb for _, rgb, _ in parts], dtype=_F32).T * rng.uniform(0.97, 1.03, (3, 1)).astype(
        _F32
    )
    psf = _psf_matrix(size, round(float(rng.uniform(0.5, 1.0)) * size / 75.0, 2))  # rounded: cache hits
    image = psf @ (colours @ lights).reshape(3, size, size) @ psf.T
    # Normalise so the brightest ~0.3% of pixels saturate, as galaxy cores do in SDSS JPEGs.
    luminance = image.sum(axis=0).ravel()
    kth = luminance.size - 1 - luminance.size // 300
    image *= _F32(3.0 / np.partition(luminance, kth)[kth])
    noise_sigma = float(rng.uniform(0.002, 0.005))
    image += rng.standard_normal(image.shape, dtype=_F32) * _F32(noise_sigma) + _F32(0.5 * noise_sigma)
    stretch = float(rng.uniform(20.0, 40.0))
    scale = float(rng.uniform(0.85, 1.0)) * 255.0 / np.arcsinh(stretch)
    x = np.maximum(image * _F32(stretch), _F32(0.0))
    scaled = np.log(x + np.sqrt(x * x + _F32(1.0))) * _F32(scale) + _F32(0.5)  # asinh, SIMD-friendly
    return np.ascontiguousarray(np.minimum(scaled, _F32(255.0)).astype(np.uint8).transpose(1, 2, 0))
