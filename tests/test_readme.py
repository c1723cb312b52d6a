"""README.md's offline commands, run exactly as written (in-process), and what they write.

The commands are read from the README's ``bash`` blocks, so editing a documented command without
keeping it working fails here. They run from a folder whose ``../shared/data`` is the real data
folder, as they would from a checkout beside it. Commands that need the network, files the
README does not create offline, or hours of training are listed in ``NOT_RUN`` with the reason.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from helpers.cli import invoke

README = Path(__file__).resolve().parents[1] / "README.md"

#: prefixes of README commands this test runs (each must be in the README exactly once)
RUN = (
    "galcat demo --out demo-quick",
    "galcat catalogue efigi --source ../shared/data/efigi/EFIGI_attributes.txt",
    "galcat catalogue rsa --source ../shared/data/rsa/usethis_rsa2.csv",
    "galcat catalogue folder --source ../shared/data/gz1/labels.csv",
    "galcat catalogue efigi --labels paper --paper-labels ../shared/data/efigi/efigi_model.csv",
    "galcat audit rsa.vot efigi.ecsv",
    "galcat audit rsa.vot efigi_paper.ecsv",
)
#: prefixes of README commands not run here, and why
NOT_RUN = {
    "galcat demo --out demo ": "minutes; the quick line runs the same code with smaller sizes",
    "galcat catalogue efigi --source EFIGI_attributes.txt": "needs the paper's tables copied into the folder",
    "galcat catalogue rsa --resolver simbad": "network (VizieR, SIMBAD)",
    "galcat crossmatch": "needs efigi_pos.fits from the line above",
    "galcat build": "minutes (5313 images) or network",
    "galcat info": "needs the store of the build line",
    "galcat train": "minutes of training",
    "torchrun": "multi-GPU",
    "galcat evaluate": "needs a trained run",
    "galcat probe": "needs a trained run",
    "galcat embed": "needs a trained run",
    "galcat neighbours": "needs a trained run",
    "python -m pytest": "this is the test suite",
    "galcat catalogue rsa --source usethis_rsa2.csv": "network (SIMBAD)",
    "galcat catalogue gz2": "network (the Galaxy Zoo data release)",
    "galcat reproduce --train efigi=": "needs the stores built from SDSS; GPU-days",
    "galcat synth": "part of the smoke run below",
    "galcat reproduce --train expert=": "minutes; tests/experiments/test_reproduce.py runs it tiny",
    "python3 -m venv": "set-up",
    "pip install": "set-up",
}


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks (continuations joined, comments removed)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(" ".join(shlex.quote(w) for w in words))
    return commands


def test_every_readme_command_is_run_here_or_has_a_reason_not_to_be():
    commands = readme_commands()
    for prefix in RUN:
        assert sum(c.startswith(prefix) for c in commands) == 1, prefix
    unexplained = [
        c for c in commands if not c.startswith(RUN) and not any((c + " ").startswith(p) for p in NOT_RUN)
    ]
    assert unexplained == []


@pytest.fixture(scope="module")
def tour(shared_data, tmp_path_factory):
    """Run the RUN commands in ``work/`` beside a ``shared/data`` link; returns the folder."""
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    work = root / "work"
    work.mkdir()
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for prefix in RUN:
            (command,) = [c for c in readme_commands() if c.startswith(prefix)]
            result = invoke(*shlex.split(command)[1:])
            outputs[prefix] = (command, result)
    return work, outputs


@pytest.mark.parametrize("prefix", RUN)
def test_readme_command_succeeds(tour, prefix):
    command, result = tour[1][prefix]
    assert result.exit_code == 0, f"{command}\n{result.output}"


def test_catalogue_tour_writes_the_documented_tables(tour):
    work = tour[0]
    efigi = Table.read(work / "efigi.ecsv", format="ascii.ecsv")
    assert len(efigi) == 4458 and {"objid", "hubble9", "hubble11"} <= set(efigi.colnames)
    rsa = Table.read(work / "rsa.vot")
    assert np.isfinite(np.ma.filled(np.asarray(rsa["ra"], dtype=float), np.nan)).mean() > 0.9
    gz1 = Table.read(work / "gz1.ecsv", format="ascii.ecsv")
    assert len(gz1) > 5000 and set(gz1["hubble9"].tolist()) <= set(efigi["hubble9"].tolist()) | {None}


def test_quick_demo_writes_metrics_catalogue_and_reports(tour):
    demo = tour[0] / "demo-quick"
    summary = json.loads((demo / "summary.json").read_text())
    assert set(summary["metrics_on_unseen"]) == {"ls-ce", "dml-proxy-nca"}
    for model, metrics in summary["metrics_on_unseen"].items():
        assert set(metrics) == {"accuracy", "macro_f1", "precision_at_1", "map_at_r", "map_at_10_v0997"}
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in metrics.values()), (model, metrics)
        # 9 balanced classes: even one epoch ranks same-class galaxies first more often than chance
        assert metrics["precision_at_1"] > 1 / 9, (model, metrics)
        report = demo / "reports" / model
        assert (report / "report.md").stat().st_size > 0 and (report / "metrics.json").is_file()
        assert (report / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(summary["timings_s"]) >= {"stores_s", "train_ls_ce_s", "train_dml_s", "evaluate_s", "total_s"}

    catalogue = Path(summary["catalogue"])
    assert catalogue == Path("demo-quick") / "synthetic_unseen_embedded.fits"
    with fits.open(demo / catalogue.name) as hdul:
        table = Table(hdul[1].data)
        assert hdul[1].header["NAXIS2"] == 9 * 4
    assert set(summary["catalogue_columns"]) == set(table.colnames)
    assert table["embedding"].shape == (36, 128) and np.isfinite(table["embedding"]).all()
    classes = set(np.char.strip(np.asarray(table["hubble9"], dtype=str)))
    assert len(classes) == 9
    assert set(np.char.strip(np.asarray(table["pred_hubble9"], dtype=str))) <= classes
    probabilities = np.stack([table[f"p_{c}"] for c in sorted(classes)], axis=1)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert {"knn_hubble9", "knn_dist", "nn_objid", "anomaly_score"} <= set(table.colnames)
