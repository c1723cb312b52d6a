"""``gz2_rule_v1`` (RECONSTRUCTED): Hart+2016 ``gz2_class`` strings -> the paper's 11 classes.

The paper's GZ2 mapping code and its labelled table (``gz2_hub.csv``) were never published. This rule is a
reconstruction, consistent with the class shares the paper reports, not a copy of its code:

    Er -> E0, Ei -> E3-5, Ec -> E7              (smooth; roundness)
    Ser / Seb / Sen -> ``edge_on_to`` (S0)       (edge-on disk)
    S[B]<bulge>[arms] -> S[B]<bulge>             (GZ2 bulge letter a/b/c taken as the stage;
                                                  d = no bulge -> ``d_to`` (c))
    (i) odd feature "irregular" -> ``irregular_to`` (Irr); A (star/artifact) -> ``artifact_to``

Grammar (Willett+2013): ``E``/``S``/``A``; ``E`` + r/i/c; ``Se`` + r/b/n; ``S``, optional ``B``,
bulge a-d, optional arm count ``1 2 3 4 + ?`` and winding ``t m l``; optional ``(x)`` odd feature.
The bar mark is accepted before or after the bulge letter (``SBc2m`` and ``ScB``).
"""

from __future__ import annotations

import re

from galcat.schemes.rules import LabelResult, check_choice, is_missing, labelled, masked

RECONSTRUCTED = True
_ODD = re.compile(r"\(([a-z]*)\)$")
_SMOOTH = re.compile(r"^E([ric])$")
_EDGE_ON = re.compile(r"^Se([rbn])$")
_DISK = re.compile(r"^S(B)?([abcd])(B)?(?:[1-4+?][tml]?|[tml][1-4+?]?)?$")
_ROUNDNESS = {"r": "E0", "i": "E3-5", "c": "E7"}


def gz2_rule_v1(
    gz2_class,
    *,
    edge_on_to: str | None = "S0",
    d_to: str = "c",
    irregular_to: str | None = "Irr",
    artifact_to: str | None = None,
) -> LabelResult:
    """Map one Hart16 ``gz2_class`` string to a HUBBLE11 class. RECONSTRUCTED (see module doc).

    Parameters: ``edge_on_to`` ('S0', 'Sb' or None to mask edge-on disks); ``d_to`` ('c' or
    None: bulge 'd' = no bulge); ``irregular_to`` ('Irr' or None: an ``(i)`` odd feature makes the
    galaxy Irr; None keeps the morphology); ``artifact_to`` (None masks ``A``, or 'Irr').

    >>> gz2_rule_v1("SBc2m(r)")
    LabelResult(label='SBc', reason='')
    >>> gz2_rule_v1("Ei").label
    'E3-5'
    """
    check_choice("edge_on_to", edge_on_to, {"S0", "Sb", None})
    check_choice("d_to", d_to, {"c", None})
    check_choice("irregular_to", irregular_to, {"Irr", None})
    check_choice("artifact_to", artifact_to, {"Irr", None})
    if is_missing(gz2_class):
        return masked("gz2_class missing")
    if not isinstance(gz2_class, str):
        return masked(f"gz2_class {gz2_class!r} is not a string")
    text = gz2_class.strip()
    odd = _ODD.search(text)
    body = text[: odd.start()] if odd else text
    if odd and "i" in odd.group(1) and irregular_to and _parses(body):
        return labelled(irregular_to)
    if body == "A":
        return labelled(artifact_to) if artifact_to else masked("gz2_class 'A' (star or artifact)")
    match = _SMOOTH.match(body)
    if match:
        return labelled(_ROUNDNESS[match.group(1)])
    if _EDGE_ON.match(body):
        return labelled(edge_on_to) if edge_on_to else masked(f"edge-on disk {text!r} masked")
    match = _DISK.match(body)
    if match:
        bar_before, bulge, bar_after = match.groups()
        if bulge == "d":
            if d_to is None:
                return masked(f"no-bulge disk {text!r} masked by d_to=None")
            bulge = d_to
        return labelled(("SB" if (bar_before or bar_after) else "S") + bulge)
    return masked(f"unrecognised gz2_class {text!r}")


def _parses(body: str) -> bool:
    return bool(body == "A" or _SMOOTH.match(body) or _EDGE_ON.match(body) or _DISK.match(body))
