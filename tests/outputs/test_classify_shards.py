"""`galcat classify` under torchrun: rank 0 builds the target store, every rank embeds a share of it.

The targets are real Galaxy Zoo images in a local folder (no network). The two-process output must
equal the one-process output column by column, a run whose rank 1 was killed must resume from the
part rank 0 kept, and a failed build on rank 0 must stop every rank with its error instead of
leaving them waiting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from helpers.cli import invoke

from galcat.outputs.shards import parts_dir_for
from galcat.store import open_store
from galcat.tables import read_table

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
N_IMAGES = 9

#: ``galcat`` with rank 1 dying as it saves its part (once rank 0's part is saved), as a killed rank would
KILL_RANK_1 = textwrap.dedent(
    """
    import os, sys, time
    from galcat.outputs import shards

    save = shards._save_part

    def save_or_die(path, rows, arrays):
        if os.environ["RANK"] == "1":
            first = path.with_name(path.name.replace("part-00001", "part-00000"))
            for _ in range(1200):
                if first.exists():
                    break
                time.sleep(0.05)
            os._exit(9)
        save(path, rows, arrays)

    shards._save_part = save_or_die
    from galcat.cli import main

    main()
    """
)

#: rank 0's work fails once, then succeeds; every rank logs what it got and meets the others after
MAIN_RANK_FIRST = textwrap.dedent(
    """
    import json, os, sys
    from galcat.errors import GalcatError
    from galcat.model.distributed import barrier
    from galcat.outputs.shards import main_rank_first, process_group

    def fail():
        raise GalcatError("targets.csv: row 3: empty id")

    with process_group() as info, open(sys.argv[1], "a") as log:
        try:
            main_rank_first(info, fail, lambda value: value)
        except GalcatError as exc:
            log.write(json.dumps([info.rank, "error", str(exc)]) + "\\n")
        value, shared = main_rank_first(info, lambda: {"big": [0] * 10, "small": 7}, lambda v: v["small"])
        log.write(json.dumps([info.rank, "ok", value, shared]) + "\\n")
        log.flush()
        barrier(info)
    """
)


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "GALCAT_PROGRESS": "0"}


def _targets(shared_data, tmp_path):
    """An id list of real Galaxy Zoo images (plus one id without an image) and their local folder."""
    files = sorted((shared_data / "gz1" / "images").glob("*.jpeg"))[200 : 200 + N_IMAGES]
    folder = tmp_path / "images"
    folder.mkdir()
    for path in files:
        (folder / path.name).symlink_to(path)
    targets = tmp_path / "targets.csv"
    rows = "".join(f"{path.stem},n{i}\n" for i, path in enumerate(files))
    targets.write_text(f"objid,note\n{rows}1234,none\n")
    return targets, folder


def _assert_same_columns(a, b):
    assert a.colnames == b.colnames and len(a) == len(b)
    for name in a.colnames:
        x, y = a[name], b[name]
        mask = np.ma.getmaskarray(x)
        assert np.array_equal(mask, np.ma.getmaskarray(y)), name
        x, y = np.asarray(np.ma.getdata(x)), np.asarray(np.ma.getdata(y))
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x[~mask], y[~mask], atol=1e-6, err_msg=name)
        else:
            assert x[~mask].tolist() == y[~mask].tolist(), name


def test_classify_under_torchrun_equals_one_process_and_resumes_a_killed_rank(shared_data, tiny, tmp_path):
    run, _ = tiny
    targets, folder = _targets(shared_data, tmp_path)
    outs = tmp_path / "outs"
    outs.mkdir()
    one, two, kept = outs / "one.fits", outs / "two.fits", tmp_path / "kept.h5"
    args = ["classify", "--model", str(run), "--targets", str(targets), "--images", str(folder), "--k", "3",
            "--batch-size", "4"]  # fmt: skip
    single = invoke(*args, "--out", one, "--keep-store", kept)
    assert single.exit_code == 0, single.output
    assert f"{N_IMAGES + 1} rows, {N_IMAGES} classified, 1 not" in single.output

    script = tmp_path / "kill_rank_1.py"
    script.write_text(KILL_RANK_1)
    killed = subprocess.run([*TORCHRUN, str(script), *args, "--out", str(two)], env=_env(),
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode != 0 and not two.exists(), killed.stderr[-3000:]
    parts = parts_dir_for(two)
    assert sorted(p.name for p in parts.iterdir()) == ["manifest.json", "part-00000-of-00002.npz"]
    with open_store(kept) as store:  # the rerun rebuilds the same store, so rank 0's part is kept
        assert json.loads((parts / "manifest.json").read_text())["store"] == store.fingerprint

    resumed = subprocess.run([*TORCHRUN, "-m", "galcat", *args, "--out", str(two)], env=_env(),
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("wrote ") == 1  # rank 0 alone reports (and writes)
    a, b = read_table(one), read_table(two)
    _assert_same_columns(a, b)
    assert list(b["classify_status"][:-1]) == ["ok"] * N_IMAGES
    assert b["classify_status"][-1].startswith("no image: ")
    assert {"pred_hubble9", "embedding", "knn_dists"} <= set(b.colnames)
    assert sorted(os.listdir(outs)) == ["one.fits", "two.fits"]  # no parts, no hidden store folder


def test_a_failed_build_on_rank_0_stops_every_rank_with_its_error(shared_data, tiny, tmp_path):
    run, _ = tiny
    _, folder = _targets(shared_data, tmp_path)
    targets = tmp_path / "bad.csv"
    targets.write_text("objid,note\n587722952767439450,a\n,b\n")
    outs = tmp_path / "outs"
    outs.mkdir()
    cmd = [*TORCHRUN, "-m", "galcat", "classify", "--model", str(run), "--targets", str(targets),
           "--images", str(folder), "--out", str(outs / "x.fits")]  # fmt: skip
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180)  # a hang fails here
    assert proc.returncode != 0
    errors = {line for line in proc.stderr.splitlines() if line.startswith("galcat: error: ")}
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "bad.csv" in errors.pop()
    assert os.listdir(outs) == []


def test_main_rank_first_hands_rank_0s_result_or_error_to_every_rank(tmp_path):
    script, log = tmp_path / "job.py", tmp_path / "log.jsonl"
    script.write_text(MAIN_RANK_FIRST)
    proc = subprocess.run([*TORCHRUN, str(script), str(log)], env=_env(), capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = sorted(json.loads(line) for line in log.read_text().splitlines())
    assert lines == [
        [0, "error", "targets.csv: row 3: empty id"],
        [0, "ok", {"big": [0] * 10, "small": 7}, 7],
        [1, "error", "targets.csv: row 3: empty id"],
        [1, "ok", None, 7],
    ]
