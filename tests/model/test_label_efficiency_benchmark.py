"""`benchmarks/label_efficiency.py --quick`: the whole pipeline on a few real galaxies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_label_efficiency_prints_every_init_and_budget_and_draws_the_curve(shared_data, tmp_path):
    env = {
        **os.environ,
        "GALCAT_TEST_DATA": str(shared_data),
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "label_efficiency.py"),
            "--quick",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(line["results"]) == {"random", "gz1", "ssl"}
    for cells in line["results"].values():
        assert list(cells) == ["5", "10", "all"]
        assert [c["n_train"] for c in cells.values()][:2] == [10, 20]  # exactly N per class, 2 classes
        assert len({c["n_val"] for c in cells.values()}) == 1  # one fixed validation split
        for cell in cells.values():
            assert {"accuracy", "macro_f1", "precision_at_1", "map_at_r", "minutes"} <= set(cell)
    assert "gain_at_100_points" not in line["goals"] and line["minutes"]["total"] > 0
    assert (tmp_path / "label_efficiency.png").stat().st_size > 1000
    # pretraining never saw the task's validation galaxies
    ssl = json.loads((tmp_path / "ssl" / "config.json").read_text())
    assert ssl["exclude_stores"] and ssl["exclude_stores"][0].endswith("_val.h5")
