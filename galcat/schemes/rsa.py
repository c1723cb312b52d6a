"""``rsa_rule_v1``: Revised Shapley-Ames type strings -> the paper's 11 Hubble classes.

The paper's RSA labels (``usethis_rsa2.csv``) are not a pure function of the RSA string (373 of
its 1249 galaxies differ from the older ``usethis_rsa.csv``); this parser is the documented
deterministic alternative:

1. drop spaces, ``pec``, ``:``, ``?``, a leading ``(R)``/``R`` and the luminosity class
   (``I``, ``I-II``, ... ``V``, also ``II.8``);
2. split compound types on ``/`` (``S0/a`` is one type) and keep the first component, unless
   ``e_wins_over_s0`` and the first is S0 and a later one is E (``S0_1(3)/E3`` -> E3-5);
3. ``E<n>``: n <= 2 -> E0, 3..5 -> E3-5, >= 6 -> E7; bare ``E`` -> E0;
4. ``S0...``, ``SB0...``, ``S0/a`` -> S0 (``S0_1(5)`` is S0 subclass 1, flattening 5: S0);
5. ``[R]SB<stage>`` -> SB + stage, ``S<stage>`` -> S + stage; ``a``/``ab`` -> a,
   ``b`` -> b, ``bc`` -> ``bc_to``, ``c``/``cd``/``d``/``dm`` -> c;
6. ``Sm``, ``SBm``, ``Im``, ``Ir``, ``Irr``, ``IBm``, ``I0``, ``Amorph`` -> Irr (``sm_to``).

HyperLeda-style strings (OpenNGC ``Hubble``) parse too: ``SAB`` is unbarred (as in the paper's
labels), ``E-S0`` reads as ``E/S0``; a bare ``S`` or ``S?`` has no stage and is masked.

Anything else gives a masked label with the reason, never a guess.
"""

from __future__ import annotations

import re

from galcat.schemes.rules import LabelResult, check_choice, is_missing, labelled, masked

_NOISE = re.compile(r"pec|Pec|PEC|[:?!\s]")
_LUMINOSITY = re.compile(r"(?<=[a-z0-9)+\-])(?:I{1,3}|IV|V)(?:\.\d)?(?:-(?:I{1,3}|IV|V)(?:\.\d)?)?$")
_E = re.compile(r"^[dc]?E(\d)?(?:[+\-]|\(.*\))*$")
_S0 = re.compile(r"^S(?:A|B|AB|\(B\))?0")
_SPIRAL = re.compile(r"^S(A|B|AB|\(B\))?(ab|bc|cd|dm|a|b|c|d|m)(?![a-z])")
_IRREGULAR = re.compile(r"^(?:Amorph|Irr?|IA?B?m?|I0)(?:[IV.\d\-]*|\(.*\))$")
_S0A = re.compile(r"^(S(?:A|B|AB|\(B\))?0)/a")


def rsa_rule_v1(
    type_string,
    *,
    e_wins_over_s0: bool = False,
    bc_to: str = "b",
    sm_to: str = "Irr",
    sab_is_barred: bool = False,
) -> LabelResult:
    """Map one RSA type string to a HUBBLE11 class (or a masked label with the reason).

    Parameters: ``e_wins_over_s0`` (True matches the older ``usethis_rsa.csv``: in
    ``S0_1(3)/E3`` the E part decides); ``bc_to`` ('b' as in ``usethis_rsa2.csv``, or 'c');
    ``sm_to`` ('Irr' or 'c'); ``sab_is_barred`` (SAB / S(B) counted as SB; default unbarred).

    >>> rsa_rule_v1("RSBbc(rs)I-II")
    LabelResult(label='SBb', reason='')
    >>> rsa_rule_v1("S0_1(5)").label
    'S0'
    """
    check_choice("bc_to", bc_to, {"b", "c"})
    check_choice("sm_to", sm_to, {"Irr", "c"})
    if is_missing(type_string):
        return masked("RSA type missing")
    if not isinstance(type_string, str):
        return masked(f"RSA type {type_string!r} is not a string")
    text = _NOISE.sub("", type_string)
    text = re.sub(r"^\(R'?\)|^R'?(?=S)", "", text)
    text = _S0A.sub(r"\1a", text)
    text = re.sub(r"(?<=E)(\d?)-(?=S)", r"\1/", text)  # HyperLeda-style E-S0 reads as E/S0
    parts = [_LUMINOSITY.sub("", p) for p in text.split("/") if p]
    if not parts:
        return masked(f"RSA type {type_string!r} is empty after cleaning")
    results = [_component(p, bc_to=bc_to, sm_to=sm_to, sab_is_barred=sab_is_barred) for p in parts]
    first = results[0]
    if first is None:
        return masked(f"unrecognised RSA type {type_string!r}")
    if e_wins_over_s0 and first == "S0":
        for other in results[1:]:
            if other in ("E0", "E3-5", "E7"):
                return labelled(other)
    return labelled(first)


def _component(part: str, *, bc_to: str, sm_to: str, sab_is_barred: bool) -> str | None:
    """One compound component -> class, or None when it is not a recognised type."""
    match = _E.match(part)
    if match:
        n = int(match.group(1)) if match.group(1) else 0
        return "E0" if n <= 2 else "E3-5" if n <= 5 else "E7"
    if _S0.match(part):
        return "S0"
    match = _SPIRAL.match(part)
    if match:
        family, stage = match.groups()
        if stage == "m":
            return "Irr" if sm_to == "Irr" else ("SBc" if family == "B" else "Sc")
        letter = {"a": "a", "ab": "a", "b": "b", "bc": bc_to, "c": "c", "cd": "c", "d": "c", "dm": "c"}
        barred = family == "B" or (sab_is_barred and family in ("AB", "(B)"))
        return ("SB" if barred else "S") + letter[stage]
    if _IRREGULAR.match(part):
        return "Irr"
    return None
