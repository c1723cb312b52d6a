"""Hubble class schemes and the label rules that map catalogue types onto them."""

from galcat.schemes.classes import HUBBLE9, HUBBLE11, SCHEMES, collapse_11_to_9, encode
from galcat.schemes.efigi import efigi_rule_v1
from galcat.schemes.gz2 import gz2_rule_v1
from galcat.schemes.handedness import mirror_pairs
from galcat.schemes.paper import read_paper_labels
from galcat.schemes.rsa import rsa_rule_v1
from galcat.schemes.rules import LabelResult

#: rule name -> (function, scheme it produces)
RULES = {
    "efigi_rule_v1": (efigi_rule_v1, "hubble9"),
    "rsa_rule_v1": (rsa_rule_v1, "hubble11"),
    "gz2_rule_v1": (gz2_rule_v1, "hubble11"),
}

__all__ = [
    "HUBBLE9",
    "HUBBLE11",
    "SCHEMES",
    "RULES",
    "LabelResult",
    "collapse_11_to_9",
    "encode",
    "mirror_pairs",
    "efigi_rule_v1",
    "gz2_rule_v1",
    "rsa_rule_v1",
    "read_paper_labels",
]
