"""Shared pieces of the label rules: the result type and the helpers every rule uses.

A rule maps one catalogue value to a Hubble class **or to nothing**: an input it cannot read
gives ``label=None`` and a reason, never a guess, so a reader can mask the row and count it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class LabelResult(NamedTuple):
    """``label`` is a class name or ``None`` (masked); ``reason`` says why it is masked ('' if not)."""

    label: str | None
    reason: str


def labelled(label: str) -> LabelResult:
    return LabelResult(label, "")


def masked(reason: str) -> LabelResult:
    return LabelResult(None, reason)


def is_missing(value) -> bool:
    """True for None, masked values, NaN and blank strings: inputs a rule must not guess from."""
    if value is None or value is np.ma.masked:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def check_choice(name: str, value, allowed) -> None:
    """Reject a rule parameter outside its documented choices (a typo must not change labels)."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; expected one of {sorted(map(str, allowed))}")
