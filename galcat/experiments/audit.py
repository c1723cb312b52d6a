"""``audit(AuditConfig)``: two label sets on the same galaxies, compared.

Why: the paper's second claim is that crowd labels (GZ2-H) and expert labels (EFIGI, RSA)
differ. Given two catalogues (cross-matched here by identifier and/or position) or one table
already cross-matched, the audit reports the class shares of each label set in the form of the
paper's Table 1, the confusion matrix between the sets (rows A, columns B), the agreement per
class, and Cohen's kappa with a percentile bootstrap interval (pairs resampled).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from galcat.atomic import atomic_write
from galcat.config import json_default, save_config
from galcat.errors import GalcatError
from galcat.schemes import SCHEMES, collapse_11_to_9, encode


@dataclass
class AuditConfig:
    """Everything that defines one audit (``galcat audit``)."""

    a: str  # table or store; or one cross-matched table (with <scheme>_a / <scheme>_b columns)
    b: str | None = None
    out: str = "reports/audit"
    scheme: str = "hubble9"  # hubble11 labels are collapsed when hubble9 is asked for
    names: tuple[str, str] | None = None  # label-set names (default: catalogue names or file stems)
    radius: str = "5arcsec"
    by: str = "auto"  # auto = both when A and B have the --key column, else sky
    key: str = "pgc"
    bootstrap: int = 1000
    seed: int = 0


def read_labelled(path) -> Table:
    """A catalogue table from a table file or from a galcat store's ``catalogue``."""
    path = Path(path)
    if not path.exists():
        raise GalcatError(f"{path}: file not found")
    if path.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as fh:
            is_store = "images" in fh and "catalogue" in fh
        if is_store:
            from galcat.store import open_store

            with open_store(path) as store:
                return store.catalogue.copy()
    from galcat.catalogues.targets import read_user_table

    return read_user_table(path)  # the one reader of user tables: what classify reads, audit reads


def scheme_labels(table: Table, scheme: str, suffix: str = "", source: str = "table") -> np.ndarray:
    """Class codes of ``scheme`` (-1 where unlabelled) from ``<scheme><suffix>``.

    For ``hubble9``, rows without a hubble9 label fall back to their collapsed hubble11 label.
    """
    if scheme not in SCHEMES:
        raise GalcatError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    classes = SCHEMES[scheme]
    codes = np.full(len(table), -1, dtype=np.int64)
    found = False
    column = f"{scheme}{suffix}"
    if column in table.colnames:
        codes = encode(_strings(table[column]), classes)
        found = True
    fallback = f"hubble11{suffix}"
    if scheme == "hubble9" and fallback in table.colnames:
        h11 = _strings(table[fallback])
        collapsed = np.array([collapse_11_to_9(v) if v in SCHEMES["hubble11"] else "" for v in h11], object)
        missing = codes < 0
        codes[missing] = encode(collapsed[missing], classes)
        found = True
    if not found:
        raise GalcatError(f"{source}: no label column {column!r} (nor {fallback!r} to collapse)")
    return codes


def _strings(column) -> np.ndarray:
    values = np.ma.asarray(column)
    mask = np.ma.getmaskarray(values)
    return np.array(
        ["" if m else str(v).strip() for v, m in zip(values.data, mask, strict=True)], dtype=object
    )


def class_shares(codes: np.ndarray, n_classes: int) -> dict:
    """Counts and shares per class over the labelled rows (the paper's Table 1 form)."""
    codes = np.asarray(codes)
    counts = np.bincount(codes[codes >= 0], minlength=n_classes)
    total = int(counts.sum())
    shares = counts / total if total else np.zeros(n_classes)
    return {"n": total, "counts": counts.tolist(), "shares": shares.tolist()}


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_classes: int) -> float | None:
    """Cohen's kappa, or None where it is undefined: when chance agreement is 1 (both sets use
    one and the same class only) kappa is 0/0, whatever the observed agreement."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    n = len(a)
    if n == 0:
        return None
    observed = float(np.mean(a == b))
    chance = float(np.dot(np.bincount(a, minlength=n_classes), np.bincount(b, minlength=n_classes))) / n**2
    if chance >= 1.0 - 1e-12:
        return None
    return (observed - chance) / (1.0 - chance)


def format_kappa(value) -> str:
    """``0.412``, or ``undefined`` (see :func:`cohen_kappa`)."""
    return "undefined" if value is None else f"{value:.3f}"


def compare_labels(
    a: np.ndarray, b: np.ndarray, classes, bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Agreement, per-class agreement, confusion (rows A, columns B) and kappa for paired codes."""
    from galcat.metrics.classification import confusion_counts

    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    n, k = len(a), len(classes)
    if n == 0:
        raise GalcatError("audit: no galaxy carries a label in both sets")
    counts = confusion_counts(a, b, k)
    agree = float(np.trace(counts) / n)
    per_class = {}
    for i, name in enumerate(classes):
        n_a, n_b, hits = int(counts[i].sum()), int(counts[:, i].sum()), int(counts[i, i])
        union = n_a + n_b - hits
        per_class[name] = {
            "n_a": n_a,
            "n_b": n_b,
            "b_agrees_given_a": hits / n_a if n_a else None,
            "a_agrees_given_b": hits / n_b if n_b else None,
            "jaccard": hits / union if union else None,
        }
    result = {
        "n_pairs": n,
        "n_unlabelled": int((~both).sum()),
        "agreement": agree,
        "disagreement": 1.0 - agree,
        "kappa": cohen_kappa(a, b, k),
        "confusion": counts.tolist(),
        "per_class": per_class,
    }
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        kappas, agrees = np.empty(bootstrap), np.empty(bootstrap)
        for i in range(bootstrap):
            idx = rng.integers(0, n, n)
            value = cohen_kappa(a[idx], b[idx], k)
            kappas[i] = np.nan if value is None else value
            agrees[i] = np.mean(a[idx] == b[idx])
        alpha = (1.0 - level) / 2.0
        defined = kappas[~np.isnan(kappas)]
        # the interval of the resamples where kappa is defined; how many were not is reported once
        interval = [float(np.quantile(defined, q)) for q in (alpha, 1 - alpha)] if len(defined) else None
        result["kappa_ci"] = interval
        result["agreement_ci"] = [float(np.quantile(agrees, q)) for q in (alpha, 1 - alpha)]
        undefined = int(bootstrap - len(defined))
        result["bootstrap"] = {"n": int(bootstrap), "level": level, "seed": int(seed)}
        result["bootstrap"]["kappa_undefined"] = undefined
    return result


def _name(table: Table, path, default: str) -> str:
    return str(table.meta.get("catalogue") or (Path(path).stem if path else default))


def _resolve_by(cfg: AuditConfig, a: Table, b: Table) -> str:
    if cfg.by != "auto":
        return cfg.by
    return "both" if cfg.key in a.colnames and cfg.key in b.colnames else "sky"


def paired_codes(cfg: AuditConfig) -> dict:
    """Read the input(s), cross-match if needed, and return codes of both sets plus context."""
    table_a = read_labelled(cfg.a)
    if cfg.b is None:  # one table already cross-matched: <scheme>_a / <scheme>_b
        codes_a = scheme_labels(table_a, cfg.scheme, "_a", str(cfg.a))
        codes_b = scheme_labels(table_a, cfg.scheme, "_b", str(cfg.a))
        names = cfg.names or ("A", "B")
        return {"names": names, "a": codes_a, "b": codes_b, "full_a": codes_a, "full_b": codes_b,
                "match": {"input": str(cfg.a), "pairs": len(table_a)}}  # fmt: skip
    from galcat.coords import crossmatch

    table_b = read_labelled(cfg.b)
    full_a = scheme_labels(table_a, cfg.scheme, "", str(cfg.a))
    full_b = scheme_labels(table_b, cfg.scheme, "", str(cfg.b))
    by = _resolve_by(cfg, table_a, table_b)
    matched = crossmatch(table_a, table_b, cfg.radius, by=by, key=cfg.key)
    rows_a = np.asarray(matched["row_a"], dtype=np.int64)
    rows_b = np.asarray(matched["row_b"], dtype=np.int64)
    names = cfg.names or (_name(table_a, cfg.a, "A"), _name(table_b, cfg.b, "B"))
    match = {"a": str(cfg.a), "b": str(cfg.b), "n_a": len(table_a), "n_b": len(table_b), "by": by,
             "radius": cfg.radius, "key": cfg.key, "pairs": len(matched)}  # fmt: skip
    return {"names": tuple(names), "a": full_a[rows_a], "b": full_b[rows_b], "full_a": full_a,
            "full_b": full_b, "match": match}  # fmt: skip


def check_audit_config(cfg: AuditConfig) -> AuditConfig:
    """GalcatError naming the option for a bad choice, radius or count, before any file is read."""
    from galcat.coords.crossmatch import MATCH_BY, parse_radius
    from galcat.paths import check_writable
    from galcat.ranges import bound, check_numbers

    if cfg.scheme not in SCHEMES:
        raise GalcatError(f"--scheme {cfg.scheme!r} is not one of {', '.join(SCHEMES)}")
    if cfg.by not in ("auto", *MATCH_BY):
        raise GalcatError(f"--by {cfg.by!r} is not one of auto, {', '.join(MATCH_BY)}")
    if cfg.names is not None and (len(cfg.names) != 2 or not all(str(n).strip() for n in cfg.names)):
        raise GalcatError(f"--names {cfg.names!r}: give two names separated by a comma")
    parse_radius(cfg.radius)
    check_numbers(cfg, {"bootstrap": bound("bootstrap"), "seed": bound("seed")})
    check_writable(cfg.out, kind="folder")  # before the inputs are read and matched
    return cfg


def audit(cfg: AuditConfig) -> dict:
    """Run the audit and write ``audit.json``, ``audit.md`` and ``audit.png`` to ``cfg.out``."""
    check_audit_config(cfg)
    classes = list(SCHEMES[cfg.scheme])
    pairs = paired_codes(cfg)
    name_a, name_b = pairs["names"]
    k = len(classes)
    result = {
        "names": [name_a, name_b],
        "scheme": cfg.scheme,
        "class_names": classes,
        "match": pairs["match"],
        "shares": {
            f"{name_a} (all)": class_shares(pairs["full_a"], k),
            f"{name_b} (all)": class_shares(pairs["full_b"], k),
            f"{name_a} (matched)": class_shares(pairs["a"][pairs["b"] >= 0], k),
            f"{name_b} (matched)": class_shares(pairs["b"][pairs["a"] >= 0], k),
        },
        **compare_labels(pairs["a"], pairs["b"], classes, cfg.bootstrap, cfg.seed),
        "config": {key: getattr(cfg, key) for key in cfg.__dataclass_fields__},
    }
    write_audit(cfg.out, result)
    save_config(cfg, Path(cfg.out) / "audit_config.json")
    return result


def audit_markdown(result: dict) -> str:
    """The audit as Markdown: shares (Table 1 form), agreement, kappa, per class, confusion."""
    classes = result["class_names"]
    name_a, name_b = result["names"]
    lines = [f"# Label audit: {name_a} vs {name_b} ({result['scheme']})", ""]
    match = result["match"]
    if "by" in match:
        lines += [f"- cross-match by {match['by']} (radius {match['radius']}, key {match['key']}): "
                  f"{match['pairs']} pairs of {match['n_a']} x {match['n_b']} rows"]  # fmt: skip
    lines += [
        f"- galaxies labelled in both sets: {result['n_pairs']} ({result['n_unlabelled']} pairs lack a label)"
    ]
    agree = f"- agreement: {100 * result['agreement']:.1f} %"
    if "agreement_ci" in result:
        lo, hi = result["agreement_ci"]
        agree += f" (95 % bootstrap [{100 * lo:.1f}, {100 * hi:.1f}])"
    kappa = f"- Cohen's kappa: {format_kappa(result['kappa'])}"
    if result["kappa"] is None:
        kappa += " (both sets use one and the same class only: chance agreement is 1)"
    if result.get("kappa_ci"):
        lo, hi = result["kappa_ci"]
        kappa += f" (95 % bootstrap [{lo:.3f}, {hi:.3f}], {result['bootstrap']['n']} resamples"
        undefined = result["bootstrap"].get("kappa_undefined", 0)
        kappa += f"; undefined in {undefined} of them)" if undefined else ")"
    lines += [agree, kappa, "", "## Class shares (the paper's Table 1 form)", ""]
    lines += ["| label set | n | " + " | ".join(classes) + " |", "|---|---|" + "---|" * len(classes)]
    for label, share in result["shares"].items():
        lines.append(f"| {label} | {share['n']} | " + " | ".join(f"{s:.3f}" for s in share["shares"]) + " |")
    lines += ["", "## Agreement per class", ""]
    lines += [f"| class | n {name_a} | n {name_b} | {name_b} agrees given {name_a} | "
              f"{name_a} agrees given {name_b} | Jaccard |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, pc in result["per_class"].items():
        cells = [f"{v:.3f}" if v is not None else "n/a" for v in
                 (pc["b_agrees_given_a"], pc["a_agrees_given_b"], pc["jaccard"])]  # fmt: skip
        lines.append(f"| {name} | {pc['n_a']} | {pc['n_b']} | " + " | ".join(cells) + " |")
    lines += ["", f"## Confusion (rows {name_a}, columns {name_b}; counts)", ""]
    lines += [f"| {name_a} \\ {name_b} | " + " | ".join(classes) + " |", "|---|" + "---|" * len(classes)]
    for name, row in zip(classes, result["confusion"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "Figure: `audit.png` (row-normalised confusion between the two label sets).", ""]
    return "\n".join(lines)


def write_audit(out_dir, result: dict) -> dict[str, Path]:
    """``audit.json``, ``audit.md`` and the confusion figure ``audit.png``."""
    from galcat.evaluate.plots import plot_confusion
    from galcat.metrics.classification import row_normalise

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name_a, name_b = result["names"]
    counts = np.asarray(result["confusion"])
    paths = {"json": out / "audit.json", "report": out / "audit.md"}
    paths["figure"] = plot_confusion(
        row_normalise(counts), result["class_names"], out / "audit.png",
        f"{name_a} vs {name_b}: kappa {format_kappa(result['kappa'])}", counts=counts,
        axis_labels=(f"{name_a} label", f"{name_b} label"),
    )  # fmt: skip
    atomic_write(paths["json"], json.dumps(result, indent=2, default=json_default) + "\n")
    atomic_write(paths["report"], audit_markdown(result))
    return paths
