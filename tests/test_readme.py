"""README.md's offline commands and Python blocks, run exactly as written (in README order).

The commands are read from the README's ``bash`` blocks and the Python quickstart from its
``python`` blocks (run after the commands, in the folder the commands made their run in), so
editing a documented command or call without keeping it working fails here. They run from a
folder whose ``../shared/data`` is the real data folder, as they would from a checkout beside it,
with a real TOPCAT on a private SAMP hub for the ``--samp`` line. ``NOT_RUN`` lists every command
that is not run, with the reason: the network (cutout services, VizieR, SIMBAD, package index),
the test suite itself, and the long runs whose small versions run here or in their own tests (the
full demo, the CPU recipe, the smoke grid of ``galcat reproduce``).
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

#: prefixes of README commands not run here, and why
NOT_RUN = {
    "python3 -m venv": "set-up: creates an environment and installs from the package index (network)",
    "pip install": "set-up: the package index (network)",
    "torchrun --nproc_per_node 2 -m galcat embed": "two processes under torchrun; "
    "tests/outputs/test_shards.py runs the same command and compares it with one process",
    "torchrun --nproc_per_node 2 -m galcat classify": "two processes under torchrun; "
    "tests/outputs/test_classify_shards.py runs it on a local image folder and compares it with one process",
    "python -m pytest": "the test suite itself (this test is part of it)",
    "galcat catalogue rsa --resolver simbad": "network: VizieR VII/51 and SIMBAD",
    "galcat build efigi": "network: SDSS SkyServer cutouts",
    "galcat classify --model runs/gz1-dml --targets my_galaxies.csv": "network: SIMBAD and SkyServer",
    "galcat demo --out demo ": "the full demo (docs/benchmarks.md); the quick demo line runs it here",
    "galcat build folder --images ../shared/data/gz1/images --catalogue ../shared/data/gz1/labels.csv "
    "--id-column OBJID --label-column class_name --size 64": "the CPU recipe (docs/benchmarks.md); "
    "the tour's build/train/evaluate lines run the same commands on a smaller store here",
    "galcat train --store stores/gz1_64.h5": "the CPU recipe (see above)",
    "galcat evaluate --model runs/gz1-dml --query stores/gz1_64.h5": "the CPU recipe (see above)",
    "galcat probe --model runs/gz1-lsce-short --store stores/gz1_64.h5": "needs the CPU recipe's store",
    # 'Reproducing the paper': the stores come from SDSS cutouts and the catalogues from VizieR/SIMBAD
    "galcat catalogue rsa --source usethis_rsa2.csv": "network: SIMBAD",
    "galcat catalogue efigi --source EFIGI_attributes.txt": "part of the network store-building sequence",
    "galcat catalogue gz2": "network: the Galaxy Zoo 2 data release",
    "galcat build rsa": "network: SDSS SkyServer cutouts",
    "galcat build gz2": "network: SDSS SkyServer cutouts",
    "galcat train --store stores/gz2h.h5": "needs the network-built GZ2 store",
    "galcat reproduce --train efigi=": "needs the network-built stores (and GPU-days)",
    "galcat reproduce --train expert=": "the smoke grid (24 cells: minutes); "
    "tests/experiments/test_reproduce.py runs the same grid tiny",
}


def readme_python_blocks() -> list[str]:
    """The source of every ``python`` block of the README, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks (continuations joined, comments removed)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(" ".join(shlex.quote(w) for w in words))
    return commands


def _skipped(command: str) -> bool:
    return any((command + " ").startswith(prefix) for prefix in NOT_RUN)


RUN = [c for c in readme_commands() if not _skipped(c)]


def test_every_readme_command_is_run_here_or_has_a_reason_not_to_be():
    commands = readme_commands()
    assert all(c.startswith("galcat ") for c in RUN), [c for c in RUN if not c.startswith("galcat ")]
    for prefix in NOT_RUN:  # a stale reason (the command left the README) fails too
        assert any((c + " ").startswith(prefix) for c in commands), prefix
    must_run = ("galcat classify", "galcat neighbours", "galcat embed", "galcat train", "galcat demo")
    assert all(any(c.startswith(p) for c in RUN) for p in must_run)


@pytest.fixture(scope="module")
def tour(shared_data, tmp_path_factory, topcat_hub):
    """Run the RUN commands in ``work/`` beside a ``shared/data`` link; returns the folder and results."""
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    work = root / "work"
    work.mkdir()
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("SAMP_HUB", f"std-lockurl:{topcat_hub.as_uri()}")
        for command in RUN:
            outputs[command] = invoke(*shlex.split(command)[1:])
    return work, outputs


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("command", RUN)
def test_readme_command_succeeds(tour, command):
    result = tour[1][command]
    assert result.exit_code == 0, f"{command}\n{result.output}"


def test_catalogue_tour_writes_the_documented_tables(tour):
    work = tour[0]
    efigi = Table.read(work / "efigi.ecsv", format="ascii.ecsv")
    assert len(efigi) == 4458 and {"objid", "hubble9", "hubble11"} <= set(efigi.colnames)
    rsa = Table.read(work / "rsa.vot")
    assert np.isfinite(np.ma.filled(np.asarray(rsa["ra"], dtype=float), np.nan)).mean() > 0.9
    gz1 = Table.read(work / "gz1.ecsv", format="ascii.ecsv")
    assert len(gz1) > 5000 and set(gz1["hubble9"].tolist()) <= set(efigi["hubble9"].tolist()) | {None}
    mergers = Table.read(work / "mergers.ecsv", format="ascii.ecsv")
    assert len(mergers) == 54 and not np.ma.getmaskarray(mergers["ra"]).any()
    assert "PRI_NAMES" in mergers.colnames and mergers.meta["label_schemes"] == {}
    (crossmatch,) = [c for c in RUN if c.startswith("galcat crossmatch rsa.vot")]
    assert "432" in tour[1][crossmatch].output.split()


def test_transfer_tour_starts_from_the_gz1_run_with_100_labels_a_class(tour):
    """The cross-catalogue line: a GZ1 trunk, GZ2's two classes, 100 training galaxies of each."""
    work, outputs = tour
    (command,) = [c for c in RUN if c.startswith("galcat train --init runs/gz1-lsce --store stores/kaggle")]
    assert str(work / "runs" / "gz1-lsce") in outputs[command].output  # the summary names its encoder
    config = json.loads((work / "runs" / "kaggle-from-gz1" / "config.json").read_text())
    assert config["labels_per_class"] == 100 and config["init"] == str(work / "runs" / "gz1-lsce")
    fold = json.loads((work / "runs" / "kaggle-from-gz1" / "fold0" / "result.json").read_text())
    assert fold["n_train"] == 200, fold


def test_classify_and_neighbours_tour(tour):
    """Step 6: every merger system comes back classified; NGC 5257 is found by name in its store."""
    work, outputs = tour
    table = Table.read(work / "mergers_classified.fits")
    assert len(table) == 54 and set(np.char.strip(np.asarray(table["classify_status"], dtype=str))) == {"ok"}
    wanted = {"SDSSID", "PRI_NAMES", "ra_icrs", "pred_class_name", "knn_ids", "knn_dists"}
    assert wanted <= set(table.colnames)
    (command,) = [c for c in RUN if c.startswith("galcat neighbours")]
    assert "query 587722984435351614" in outputs[command].output  # Arp 240 = NGC 5257 + NGC 5258
    assert (work / "nn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (embed,) = [c for c in RUN if c.startswith("galcat embed --model runs/gz1-dml --store stores/gz1_32.h5")]
    assert "sent gz1_embedded.fits" in outputs[embed].output


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

    (command,) = [c for c in RUN if c.startswith("galcat demo --out demo-quick")]
    explorer = Path("demo-quick") / "explore" / "index.html"
    assert summary["explorer"] == str(explorer) and (demo / "explore" / "index.html").is_file()
    assert tour[1][command].stdout.splitlines()[-1] == f"open this first, in a browser: {explorer}"
    for model in summary["metrics_on_unseen"]:
        assert (demo / "reports" / model / "report.html").stat().st_size > 10_000

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
    assert not [c for c in table.colnames if c.startswith("t0") or c.startswith("t1")]  # no GZ2 votes


def test_hats_tour_matches_every_merger_back(tour):
    """The embedded mergers written as HATS and cross-matched with lsdb against the target list."""
    work = tour[0]
    assert (work / "mergers_embedded.hats" / "galcat_columns.json").exists()
    matched = Table.read(work / "mergers_x.ecsv", format="ascii.ecsv")
    assert len(matched) == 54 and float(np.max(matched["sep_arcsec"])) < 2.0


def test_quick_demo_explorer_opens_in_chromium(tour, require_tool, tmp_path):
    """The demo's explorer in headless Chromium, no console errors: table, a galaxy, the map
    (the PNGs go to ``$GALCAT_EXPLORE_SHOTS`` when set, to look at)."""
    import os

    from helpers.browser import start_chromium
    from helpers.explore_shots import take_screenshots

    driver = start_chromium(require_tool("chromium"), require_tool("chromedriver"))
    try:
        out = os.environ.get("GALCAT_EXPLORE_SHOTS") or tmp_path
        shots = take_screenshots(driver, tour[0] / "demo-quick" / "explore" / "index.html", out)
    finally:
        driver.quit()
    assert set(shots) == {"table", "galaxy", "map", "report"}
    for path in shots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_python_quickstart_predicts_on_an_array(tour, capsys):
    """The README's Python blocks, run in the tour's folder: probabilities for a (4, 64, 64, 3) array."""
    blocks = readme_python_blocks()
    assert blocks and any("predictor().predict(" in b for b in blocks)
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tour[0])
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)  # the documented code itself
    result = namespace["result"]
    probabilities = np.asarray(result.probabilities)
    assert namespace["images"].shape == (4, 64, 64, 3) and probabilities.shape == (4, len(result.class_names))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert set(result.predicted) <= set(result.class_names)
    assert str(list(result.predicted)[0]) in capsys.readouterr().out


def test_the_demo_time_is_stated_in_one_place_and_the_readme_and_help_agree():
    """docs/benchmarks.md holds the demo's measured times; the README and ``--help`` say the same."""
    stated = "about a minute on 2 idle cores"
    readme = " ".join(README.read_text(encoding="utf-8").split())
    benchmarks = " ".join((README.parent / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
    help_text = " ".join(invoke("demo", "--help").output.split())
    for text in (readme, help_text):
        assert stated in text and "docs/benchmarks.md" in text
    assert f"**{stated}**" in benchmarks
    assert not re.findall(r"\b\d+(?:\.\d+)? ?(?:s|min|minutes|seconds)\b", readme)  # no other timing
