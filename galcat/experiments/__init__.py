"""The paper's experiments as commands: label audits, the Tables 3-4 grid, frozen-feature probes.

``audit(AuditConfig)`` compares two label sets on the same galaxies; ``reproduce`` runs the
paper's training grid and writes its tables beside the published values; ``probe`` trains a
small head on a frozen trunk's features.
"""

from galcat._lazy import lazy_dir, lazy_exports

_LAZY = {
    "AuditConfig": "galcat.experiments.audit",
    "audit": "galcat.experiments.audit",
    "compare_labels": "galcat.experiments.audit",
    "ProbeConfig": "galcat.experiments.probe",
    "probe": "galcat.experiments.probe",
    "ReproduceConfig": "galcat.experiments.reproduce",
    "reproduce": "galcat.experiments.reproduce",
    "paper_values": "galcat.experiments.paper",
}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)

__all__ = list(_LAZY)
