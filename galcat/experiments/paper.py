"""The paper's published numbers (a cited data file in the package) and the comparison tables.

``paper_values()`` reads ``data/paper_tables.toml`` (Tables 1, 3, 4 and the DeepGalaxy probe of
Variawa, van Zyl & Woolway 2022, transcribed from the paper's text). ``write_tables`` turns the
reproduce cells into ``results.ecsv`` (every cell, one row each, the paper's values beside ours)
and ``tables.md`` (the layouts of Tables 3 and 4 with the best miner per loss, every cell, the
probes, the label audits and the class shares of Table 1).
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import numpy as np

from galcat.atomic import atomic_write
from galcat.evaluate.report import format_metric
from galcat.experiments.audit import format_kappa

DATA = Path(__file__).with_name("data") / "paper_tables.toml"

#: Names under which a training/test catalogue is matched to the paper's rows.
ALIASES = {"efigi": "efigi", "gz2h": "gz2h", "gz2-h": "gz2h", "gz2": "gz2h", "rsa": "rsa"}
PAPER_NAMES = {"efigi": "EFIGI", "gz2h": "GZ2-H", "rsa": "RSA"}

#: (key in our metrics, column title); accuracy and P@1 are percentages, as the paper prints.
METRICS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "unweighted F1"),
    ("precision_at_1", "MAP@1 (P@1)"),
    ("map_at_r", "MAP@R"),
    ("map_at_10_v0997", "MAP@10 v0.9.97"),
    ("r_precision", "R-precision"),
)
PERCENT = {"accuracy", "precision_at_1"}


@functools.cache
def paper_values() -> dict:
    """The transcribed tables: ``table1`` shares, ``table3``/``table4``/``probe`` rows."""
    with DATA.open("rb") as fh:
        return tomllib.load(fh)


def paper_key(name: str) -> str | None:
    return ALIASES.get(name.lower())


def paper_row(train: str, classes: int, stage: str, loss: str | None = None, miner: str | None = None):
    """The paper's published row for one cell (``None`` where the paper has none)."""
    key = paper_key(train)
    values = paper_values()
    if stage == "ls-ce":
        rows = [r for r in values["table3"] if r["train"] == key and r["classes"] == classes]
    elif stage == "dml":
        rows = [r for r in values["table4"] if (r["train"], r["classes"], r["loss"]) == (key, classes, loss)]
    else:
        rows = [r for r in values["probe"] if r["train"] == key and r["classes"] == classes]
    return rows[0] if rows else None


def _paper_columns(row: dict | None) -> dict:
    """Our column names for the paper's values: accuracy in %, the printed "MAP@R" = MAP@10."""
    row = row or {}
    return {
        "paper_accuracy": row.get("accuracy"),
        "paper_f1": row.get("f1"),
        "paper_map_at_1": row.get("map_at_1"),
        "paper_map": row.get("map_at_r"),
        "paper_miner": row.get("miner"),
    }


def cell_row(cell: dict) -> dict:
    """One results row: the cell's identity, our means and stds, the paper's published values."""
    summary = cell.get("summary") or {}
    keys = ("train", "test", "classes", "stage", "loss", "miner", "init", "trunk", "folds")
    row = {key: cell.get(key) for key in keys}
    for key, _ in METRICS:
        stats = summary.get(key) or {}
        row[key] = stats.get("mean")
        row[f"{key}_std"] = stats.get("std")
    row["val_map_at_r"] = cell.get("val_map_at_r")
    row["best_miner"] = bool(cell.get("best_miner"))
    # the paper's probe (DeepGalaxy) froze a trunk trained for another task: our --init trunk
    other_task = cell["stage"] != "probe" or Path(str(cell.get("run"))).name == "probe-init"
    published = (
        paper_row(cell["train"], cell["classes"], cell["stage"], cell.get("loss")) if other_task else None
    )
    row.update(_paper_columns(published))
    row.update(seconds=cell.get("seconds"), run=cell.get("run"), report=cell.get("report"))
    return row


def mark_best_miners(cells: list[dict]) -> None:
    """Per (train, classes, loss): the miner with the best validation MAP@R (test MAP@R if absent).

    The paper shows "only the optimal mining function"; galcat picks it on the training
    catalogue's validation folds, so the test catalogue never chooses the model it scores.
    """
    groups: dict[tuple, list[dict]] = {}
    for cell in cells:
        if cell["stage"] == "dml" and cell.get("summary"):
            groups.setdefault((cell["train"], cell["classes"], cell["loss"]), []).append(cell)
    for group in groups.values():

        def score(c):
            val = c.get("val_map_at_r")
            return val if val is not None else c["summary"].get("map_at_r", {}).get("mean", -1.0)

        best = max(group, key=score)
        for cell in group:
            cell["best_miner"] = cell is best


def write_results(path, cells: list[dict]) -> Path:
    """``results.ecsv``: one row per cell, masked where a value does not apply."""
    from astropy.table import MaskedColumn, Table

    from galcat.tables import write_table

    rows = [cell_row(c) for c in cells]
    table = Table()
    for key in rows[0] if rows else []:
        values = [r[key] for r in rows]
        mask = [v is None for v in values]
        kind = next((type(v) for v in values if v is not None), str)
        fill = {float: np.nan, int: -1, bool: False}.get(kind, "")
        data = [fill if v is None else v for v in values]
        table[key] = MaskedColumn(data, mask=mask) if any(mask) else data
    table.meta.update(
        description="galcat reproduce: every cell, ours beside the paper's published values",
        paper="Variawa, van Zyl & Woolway 2022, IEEE Access 10, 19539, Tables 3-4",
        paper_map_note='paper_map is the printed "MAP@R" = PML v0.9.97 MAP@10; compare map_at_10_v0997',
    )
    return write_table(table, path, overwrite=True)


def _fmt(value, percent: bool = False, std=None) -> str:
    """A cell of the grid tables (their headers carry the unit; a zero spread is not shown)."""
    return format_metric(value, percent, std or None, missing="—", unit=False)


def _paper(value, digits: int = 4) -> str:
    return "—" if value is None else (f"{value:.2f}" if digits == 2 else f"{value:.4f}")


def _ours(row: dict, key: str) -> str:
    return _fmt(row.get(key), key in PERCENT, row.get(f"{key}_std"))


def _md(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(titles) -> list[str]:
    return [_md(titles), "|" + "---|" * len(titles)]


NOTES = [
    '- accuracy and MAP@1 in %; the paper\'s printed "MAP@R" was MAP@10 with PML v0.9.97',
    "  semantics, so it is compared with our `MAP@10 v0.9.97`; our true MAP@R is beside it.",
    "- DML accuracy in the paper is MAP@1 (the nearest training galaxy's label); we show both.",
    "- best miner per loss: best validation MAP@R on the training catalogue (never the test set).",
    "",
]


def _table3_row(r: dict) -> list[str]:
    return [
        r["train"], str(r["classes"]), r["init"] or "random",
        _ours(r, "accuracy"), _paper(r["paper_accuracy"], 2),
        _ours(r, "macro_f1"), _paper(r["paper_f1"]),
        _ours(r, "precision_at_1"), _paper(r["paper_map_at_1"], 2),
        _ours(r, "map_at_r"), _ours(r, "map_at_10_v0997"), _paper(r["paper_map"]),
    ]  # fmt: skip


def _table4_row(r: dict) -> list[str]:
    return [
        r["train"], str(r["classes"]), r["loss"] or "LS-CE", r["miner"] or "-", r["paper_miner"] or "-",
        _ours(r, "precision_at_1"), _paper(r["paper_map_at_1"], 2),
        _ours(r, "map_at_r"), _ours(r, "map_at_10_v0997"), _paper(r["paper_map"]), _ours(r, "accuracy"),
    ]  # fmt: skip


def _stage(r: dict) -> str:
    return (
        f"probe ({Path(r['trunk']).name} trunk)" if r["stage"] == "probe" and r.get("trunk") else r["stage"]
    )


def _cell_row(r: dict) -> list[str]:
    return [
        r["train"], str(r["classes"]), _stage(r), r["loss"] or "-", r["miner"] or "-",
        "yes" if r["best_miner"] else "", *(_fmt(r[k], k in PERCENT) for k, _ in METRICS),
        _paper(r["paper_map_at_1"] if r["paper_map_at_1"] is not None else r["paper_accuracy"], 2),
        _paper(r["paper_map"]), _fmt(r["val_map_at_r"]), f"{r['seconds']:.0f}" if r["seconds"] else "—",
        f"[report]({r['report']})" if r["report"] else "—",
    ]  # fmt: skip


def tables_markdown(cells: list[dict], context: dict) -> str:
    """The report: Tables 3 and 4 (best miner per loss), every cell, probes, audits, Table 1."""
    rows = [cell_row(c) for c in cells]
    trained = ", ".join(f"`{n}` ({p})" for n, p in context.get("train", {}).items())
    lines = ["# Reproducing Variawa, van Zyl & Woolway (2022), Tables 3 and 4", ""]
    lines += [
        f"- test catalogue: `{context.get('test_name')}` ({context.get('test_store')}); training: {trained}"
    ]
    spread = " (mean ± std over folds)" if (context.get("folds") or 1) > 1 else ""
    lines += [f"- folds: {context.get('folds')}{spread}; settings: {context.get('settings')}"]
    lines += NOTES
    lines += ["## Table 3: LS-CE on the test catalogue", ""]
    lines += _header(["fine tuning", "# classes", "init", "accuracy", "paper", "unweighted F1", "paper",
                      "MAP@1", "paper", "MAP@R", "MAP@10 v0.9.97", 'paper "MAP@R"'])  # fmt: skip
    lines += [_md(_table3_row(r)) for r in rows if r["stage"] == "ls-ce"]
    lines += ["", "## Table 4: DML initialised from LS-CE, best miner per loss", ""]
    lines += _header(["fine tuning", "# classes", "loss", "miner", "paper's miner", "MAP@1", "paper",
                      "MAP@R", "MAP@10 v0.9.97", 'paper "MAP@R"', "accuracy"])  # fmt: skip
    lines += [_md(_table4_row(r)) for r in rows if r["stage"] == "ls-ce" or r["best_miner"]]
    lines += ["", "## Every cell (probe: a head on a frozen trunk, the paper's DeepGalaxy test)", ""]
    lines += _header(["train", "# classes", "stage", "loss", "miner", "best", *(t for _, t in METRICS),
                      "paper MAP@1 (acc.)", 'paper "MAP@R"', "val MAP@R", "s", "report"])  # fmt: skip
    lines += [_md(_cell_row(r)) for r in rows]
    lines += _audit_lines(context.get("audits") or [])
    lines += _share_lines(context.get("shares") or {})
    return "\n".join(lines) + "\n"


def _audit_lines(audits: list[dict]) -> list[str]:
    if not audits:
        return []
    lines = ["", "## Label audits (catalogues that share galaxies)", ""]
    lines += ["| A | B | galaxies in both | agreement | Cohen's kappa (95 % bootstrap) | report |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for a in audits:
        if a.get("skipped"):
            lines.append(f"| {a['a']} | {a['b']} | 0 | — | — | {a['skipped']} |")
            continue
        ci = a.get("kappa_ci") or [np.nan, np.nan]
        kappa = f"{format_kappa(a['kappa'])} [{ci[0]:.3f}, {ci[1]:.3f}]"
        lines.append(f"| {a['a']} | {a['b']} | {a['n_pairs']} | {100 * a['agreement']:.1f} % | "
                     f"{kappa} | [audit]({a['report']}) |")  # fmt: skip
    return lines


def _share_lines(shares: dict) -> list[str]:
    if not shares:
        return []
    table1 = paper_values()["table1"]
    classes = table1["classes"]
    lines = ["", "## Table 1: class shares (9 classes)", ""]
    lines += ["| catalogue | n | " + " | ".join(classes) + " |", "|---|---|" + "---|" * len(classes)]
    for name, share in shares.items():
        lines.append(f"| {name} | {share['n']} | " + " | ".join(f"{s:.3f}" for s in share["shares"]) + " |")
        key = paper_key(name)
        if key in table1:
            lines.append(
                f"| {PAPER_NAMES[key]} (paper) | | " + " | ".join(f"{s:g}" for s in table1[key]) + " |"
            )
    return lines


def write_tables(out_dir, cells: list[dict], context: dict) -> dict[str, Path]:
    out = Path(out_dir)
    paths = {"results": write_results(out / "results.ecsv", cells), "tables": out / "tables.md"}
    atomic_write(paths["tables"], tables_markdown(cells, context))
    return paths
