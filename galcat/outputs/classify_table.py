"""What ``galcat classify`` hands back: its output table's columns (the same whatever succeeded),
galcat's status per row, and the summary the CLI prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galcat.outputs.join import add_columns, has_main_position
from galcat.tables import DEC_UCD, RA_UCD

OK = "ok"
RESOLVED = "resolved"  #: the status of a row with a position under ``resolve_only``


@dataclass
class ClassifyResult:
    table: Table  #: the user's table plus galcat's columns
    out: Path | None  #: the written table (None when the config had no ``out``)
    store: Path | None  #: the kept store (None when it was a temporary one)
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  #: galcat's status per row
    columns: dict = field(default_factory=dict)  #: galcat column name -> its name in ``table``
    resolve_only: bool = False
    class_counts: dict = field(default_factory=dict)  #: predicted class -> rows
    failures: dict = field(default_factory=dict)  #: reason -> rows
    examples: dict = field(default_factory=dict)  #: reason -> one example row

    @property
    def n_classified(self) -> int:
        return int(np.count_nonzero(self.status == OK))

    @property
    def n_positioned(self) -> int:
        return int(np.count_nonzero(self.status == RESOLVED)) if self.resolve_only else self.n_classified


def model_template(run, reference: str | None, k: int | None, model_dir: str = "") -> Table:
    """A zero-row table with exactly the model columns ``embed`` adds for ``run`` (and ``reference``):
    the output's schema when no row, or only some rows, could be classified."""
    from galcat.model.ensemble import select_folds
    from galcat.outputs.columns import ReferenceNeighbours, annotate_outputs
    from galcat.outputs.embed import neighbour_k
    from galcat.store import open_store

    selected = select_folds(run, None)
    fold = selected[0][1]
    k = neighbour_k(k, SimpleNamespace(models=[fold.model]))
    names = [str(c) for c in (getattr(fold, "class_names", None) or [])]
    scheme = getattr(fold, "scheme", None)
    dim = int(getattr(fold.model, "embedding_dim", 0) or fold.model.embed[-1].out_features)
    probs = np.zeros((0, len(names)), np.float32) if names else None
    knn = None
    if reference:
        with open_store(reference) as store:
            k = max(1, min(k, int((store.label_codes(scheme) >= 0).sum())))
        empty = np.zeros((0, k))
        knn = ReferenceNeighbours(empty.astype(np.float32), empty.astype(str), empty.astype(str))
    ensemble = SimpleNamespace(
        folds=[number for number, _ in selected], fold_probabilities=np.zeros((len(selected), 0, len(names))),
        entropy=np.zeros(0), std=np.zeros((0, len(names))), agreement=np.zeros(0),
    )  # fmt: skip
    return annotate_outputs(
        Table(), np.zeros((0, dim), np.float32), probs, names, scheme, knn, ensemble=ensemble
    )


def output_table(user: Table, targets: Table, model: dict) -> tuple[Table, dict]:
    """The user's table with ICRS positions, where they came from, and the model's columns."""
    table = user.copy(copy_data=True)
    main = not has_main_position(user)  # the user's own RA/Dec stay the main position if they have one
    ra_ucd, dec_ucd = (RA_UCD, DEC_UCD) if main else (RA_UCD.split(";")[0], DEC_UCD.split(";")[0])
    columns = {}
    for name, ucd, text in (("ra", ra_ucd, "right ascension"), ("dec", dec_ucd, "declination")):
        values = np.asarray(targets[name].filled(np.nan), dtype=np.float64)
        col = MaskedColumn(values, unit=u.deg, mask=np.ma.getmaskarray(targets[name]))
        col.description = f"ICRS {text} used by galcat"
        col.meta["ucd"] = ucd
        columns[f"{name}_icrs"] = col
    columns["position_source"] = Column(
        [str(s) for s in targets["position_source"]], description="Where ra_icrs/dec_icrs came from"
    )
    used = add_columns(table, columns)
    used.update(add_columns(table, model))
    return table, used


def output_meta(cfg, run, reference, targets: Table) -> dict:
    """The provenance of a classify output: its config, model, sources (saved in the table's meta)."""
    from galcat.config import to_dict

    return {
        "classify_config": to_dict(cfg),
        "classify_model": str(cfg.model or ""),
        "classify_n_folds": len(run.folds) if run is not None else 0,
        "classify_targets": str(cfg.targets),
        "classify_source": "" if cfg.resolve_only else str(cfg.images) if cfg.images else cfg.service,
        "classify_reference": str(reference or ""),
        "classify_resolver": str(cfg.resolver or ""),
        "n_unresolved": int(targets.meta.get("n_unresolved", 0)),
    }


def summarise(result: ClassifyResult, run, annotated) -> ClassifyResult:
    """Fill the counts of ``result`` from its statuses and galcat's own prediction column."""
    from galcat.outputs.columns import sanitize_name

    if run is not None:
        pred = f"pred_{sanitize_name(getattr(run.folds[0], 'scheme', None) or 'class')}"
        if annotated is not None and pred in annotated.colnames:
            counts = Counter(str(v) for v in annotated[pred])
            result.class_counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    for row, text in enumerate(result.status, start=1):
        if text not in (OK, RESOLVED):
            reason = str(text).split(":", 1)[0]
            result.failures[reason] = result.failures.get(reason, 0) + 1
            result.examples.setdefault(reason, f"row {row}: {text}")
    return result


def format_summary(result: ClassifyResult) -> list[str]:
    """Lines the CLI prints: where the table went, counts per predicted class, failures with reasons."""
    n = len(result.table)
    where_to = f"wrote {result.out}" if result.out is not None else "classified"
    done, missing = (
        ("with a position", "without a position") if result.resolve_only else ("classified", "not classified")
    )
    lines = [f"{where_to}: {n} rows, {result.n_positioned} {done}, {n - result.n_positioned} not"]
    if result.class_counts:
        lines.append("predicted: " + ", ".join(f"{c} {k}" for c, k in result.class_counts.items()))
    for reason, count in sorted(result.failures.items(), key=lambda kv: -kv[1]):
        lines.append(f"{missing} ({reason}): {count} rows, e.g. {result.examples[reason]}")
    renamed = {a: b for a, b in result.columns.items() if a != b}
    if renamed:
        lines.append(
            "your table already had " + ", ".join(f"{a} (galcat's is {b})" for a, b in renamed.items())
        )
    if result.store is not None:
        lines.append(f"store kept at {result.store}")
    return lines
