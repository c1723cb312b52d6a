"""Hubble class schemes and the label rules that map catalogue types onto them."""

from galcat.schemes.classes import HUBBLE9, HUBBLE11, SCHEMES, collapse_11_to_9, encode

__all__ = ["HUBBLE9", "HUBBLE11", "SCHEMES", "collapse_11_to_9", "encode"]
