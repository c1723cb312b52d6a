"""`galcat audit A B`: two label sets on the same galaxies (crowd vs expert, rule vs paper)."""

from __future__ import annotations

from pathlib import Path

import typer

from galcat.cli.app import app, handle_errors
from galcat.cli.options import option
from galcat.experiments.audit import AuditConfig


@app.command(
    "audit",
)
@handle_errors
def audit_command(
    table_a: Path = typer.Argument(..., help="Catalogue table or store (A), or one cross-matched table."),
    table_b: Path | None = typer.Argument(
        None, help="Catalogue table or store (B); omit for a matched table."
    ),
    scheme: str = option(AuditConfig, "scheme", help="hubble9 (hubble11 collapsed) or hubble11."),
    names: str | None = typer.Option(None, "--names", help="Names of the two label sets, e.g. rsa,efigi."),
    radius: str = option(AuditConfig, "radius", help="Cross-match radius."),
    by: str = option(AuditConfig, "by", help="auto, sky, id or both (auto: both when --key is in A and B)."),
    key: str = option(AuditConfig, "key", help="Identifier column for --by id/both."),
    bootstrap: int = option(AuditConfig, "bootstrap", help="Resamples for the kappa interval."),
    seed: int = option(AuditConfig, "seed", "--seed"),
    out: Path = option(AuditConfig, "out", help="Folder for audit.md/json/png."),
):
    """Class shares (Table 1 form), confusion between the sets, agreement per class, Cohen's kappa.

    \b
    Example: galcat audit rsa.fits efigi_pos.fits --by both --key pgc \\
      --out reports/audit-rsa-efigi
    """
    from galcat.errors import GalcatError
    from galcat.experiments.audit import audit, format_kappa

    pair = None
    if names:
        pair = tuple(part.strip() for part in names.split(","))
        if len(pair) != 2 or not all(pair):
            raise GalcatError(f"--names {names!r}: give two names separated by a comma")
    cfg = AuditConfig(
        a=str(table_a), b=str(table_b) if table_b else None, out=str(out), scheme=scheme, names=pair,
        radius=radius, by=by, key=key, bootstrap=bootstrap, seed=seed,
    )  # fmt: skip
    result = audit(cfg)
    name_a, name_b = result["names"]
    text = f"{name_a} vs {name_b}: {result['n_pairs']} galaxies labelled in both, "
    text += f"agreement {100 * result['agreement']:.1f} %, kappa {format_kappa(result['kappa'])}"
    if result.get("kappa_ci"):
        text += " [{:.3f}, {:.3f}]".format(*result["kappa_ci"])
    print(text)
    print(f"report: {out / 'audit.md'}")
