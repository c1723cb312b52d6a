"""Label source selection shared by the readers: the documented rule, or the paper's frozen table."""

from __future__ import annotations

from pathlib import Path

from galcat import __version__
from galcat.catalogues.spec import CatalogueSpec
from galcat.catalogues.standard import apply_rule, paper_labels_for
from galcat.errors import GalcatError
from galcat.schemes import HUBBLE9, HUBBLE11

LABEL_SOURCES = ("rule", "paper")


def check_label_source(labels: str) -> None:
    if labels not in LABEL_SOURCES:
        raise GalcatError(f"labels={labels!r}; expected one of {LABEL_SOURCES}")


def hubble_labels(spec: CatalogueSpec, objids, rule_inputs, labels: str, paper_labels) -> dict:
    """``{"hubble9", "hubble11", "reasons", "meta"}`` from the spec's rule or the paper table.

    ``rule_inputs`` is a list of columns in the order the rule takes them (None when the source
    has no input column: every label is then masked with that reason).
    """
    check_label_source(labels)
    meta = {
        "galcat_version": __version__,
        "label_schemes": {"hubble9": list(HUBBLE9), "hubble11": list(HUBBLE11)},
    }
    if labels == "paper":
        if paper_labels is None:
            raise GalcatError(
                "--labels paper needs the paper's label table "
                f"(e.g. {spec.label.get('paper_table')}): pass --paper-labels PATH"
            )
        h9, h11, reasons = paper_labels_for(objids, paper_labels)
        meta.update(label_rule=f"paper:{Path(paper_labels).name}", label_params={"path": str(paper_labels)})
        if all(lab is None for lab in h11):  # a 9-class paper table (EFIGI): hubble11 does not apply
            meta["label_schemes"] = {"hubble9": list(HUBBLE9)}
        return {"hubble9": h9, "hubble11": h11, "reasons": reasons, "meta": meta}
    rule, params = spec.label["rule"], dict(spec.label.get("params", {}))
    meta.update(label_rule=rule, label_params=params)
    if spec.label.get("reconstructed"):
        meta["label_rule_note"] = "reconstructed: the paper's mapping code was never published"
    if rule_inputs is None or any(col is None for col in rule_inputs):
        reason = f"no {'/'.join(spec.label.get('inputs', []))} column in the source"
        n = len(objids)
        return {"hubble9": [None] * n, "hubble11": [None] * n, "reasons": [reason] * n, "meta": meta}
    found, reasons, scheme = apply_rule(rule, rule_inputs, params)
    if scheme == "hubble9":
        meta["label_schemes"] = {"hubble9": list(HUBBLE9)}
        return {"hubble9": found, "hubble11": [None] * len(found), "reasons": reasons, "meta": meta}
    return {"hubble9": None, "hubble11": found, "reasons": reasons, "meta": meta}
