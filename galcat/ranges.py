"""Range checks for numeric options, and the one table of bounds every typed config uses.

The same rule applies whether a value comes from the command line, a Python call or a saved
``config.json``: NaN, infinities, booleans posing as numbers and values outside the documented
range are a :class:`~galcat.errors.GalcatError` that names the option. A quantity that several
commands share (an image side, a batch size, a match radius) has one entry in :data:`BOUNDS`, so
``synth store --size`` and ``build --size`` refuse the same values.
"""

from __future__ import annotations

import math
import numbers

from galcat.errors import GalcatError

#: the largest stored image side galcat builds or trains at (the paper uses 75 px; 1024 px is
#: already 3 MB per image, 0.8 TB for a 240k-galaxy catalogue)
MAX_IMAGE_SIDE = 1024

#: bounds of each kind of quantity, shared by every config that has one (see :func:`bound`)
BOUNDS: dict[str, dict] = {
    "image_side": {"low": 1, "high": MAX_IMAGE_SIDE, "integer": True},
    "batch_size": {"low": 1, "high": 1 << 20, "integer": True},
    "neighbours": {"low": 1, "high": 100_000, "integer": True},
    "workers": {"low": 1, "high": 256, "integer": True},
    "bootstrap": {"low": 0, "high": 1_000_000, "integer": True},
    "seed": {"low": 0, "high": 2**32 - 1, "integer": True},
    "fold": {"low": 0, "high": 99, "integer": True},
    "epochs": {"low": 1, "high": 100_000, "integer": True},
    "per_class": {"low": 1, "high": 100_000, "integer": True},
    "fraction": {"low": 0, "high": 1, "low_open": True},
    "probability": {"low": 0, "high": 1},
    "cutout_pixels": {"low": 1, "high": 4096, "integer": True},
    "positive": {"low": 0, "low_open": True},
    "radius_arcsec": {"low": 0, "high": 180 * 3600, "low_open": True},
    "data_release": {"low": 1, "high": 99, "integer": True},
}


def bound(kind: str, **overrides) -> dict:
    """The :data:`BOUNDS` rule of ``kind`` with ``overrides`` (``allow_none``, ``option``, a tighter low)."""
    return {**BOUNDS[kind], **overrides}


def check_number(
    value,
    option: str,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    low_open: bool = False,
    allow_none: bool = False,
):
    """Return ``value`` if it is a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    if value is None and allow_none:
        return value
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GalcatError(f"{option} must be {kind}, got {value!r}")
    if integer and not float(value).is_integer():
        raise GalcatError(f"{option} must be {kind}, got {value!r}")
    if not math.isfinite(float(value)):
        raise GalcatError(f"{option} must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        raise GalcatError(f"{option} must be {_describe(low, high, low_open)}, got {value!r}")
    return value


def _describe(low, high, low_open: bool) -> str:
    if low is not None and high is not None:
        if low_open:
            return f"> {_fmt(low)} and <= {_fmt(high)}"
        return f"between {_fmt(low)} and {_fmt(high)}"
    if low is not None:
        positive = (low == 0 and low_open) or (low == 1 and not low_open)
        return f"{'>' if low_open else '>='} {_fmt(low)}" + (" (positive)" if positive else "")
    return f"<= {_fmt(high)}"


def check_numbers(config, rules: dict[str, dict]) -> None:
    """:func:`check_number` on each ``config.<field>`` by ``rules[field]`` (option ``--field`` by default)."""
    for name, rule in rules.items():
        rule = dict(rule)
        check_number(getattr(config, name), rule.pop("option", "--" + name.replace("_", "-")), **rule)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)
