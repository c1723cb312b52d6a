"""Row-sharded inference: torchrun ranks compute contiguous row ranges, rank 0 merges by row number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from galcat.errors import GalcatError
from galcat.model.distributed import DistInfo
from galcat.outputs.shards import merge_parts, parts_dir_for, rank_rows, sharded_compute

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from galcat.outputs.shards import sharded_compute

    out, n, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def compute(rows):
        with open(log, "a") as fh:  # which rows were computed, by whom
            fh.write(json.dumps([os.environ["RANK"], rows.tolist()]) + "\\n")
        if os.environ.get("FAIL_RANK") == os.environ["RANK"]:
            os._exit(9)  # a rank that dies mid-run, as a killed process would
        return {"double": rows * 2.0, "vec": np.stack([rows, -rows], 1).astype(np.float32)}

    merged = sharded_compute(n, compute, out, {"model": "m", "store": "s"})
    if merged is not None:
        np.savez(out, **merged)
    """
)


def _torchrun(tmp_path, n: int, env_extra=None):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    out, log = tmp_path / "merged.npz", tmp_path / "computed.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(out), str(n), str(log)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, out, calls


def test_rank_rows_are_contiguous_and_cover_every_row_once():
    shares = [rank_rows(11, DistInfo(rank=r, world=3)) for r in range(3)]
    assert [s.tolist() for s in shares] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert rank_rows(5, DistInfo()).tolist() == [0, 1, 2, 3, 4]


def test_one_process_computes_everything_directly(tmp_path):
    merged = sharded_compute(4, lambda rows: {"x": rows + 1}, tmp_path / "o.fits", {})
    assert merged["x"].tolist() == [1, 2, 3, 4]
    assert not parts_dir_for(tmp_path / "o.fits").exists()


def test_merging_orders_by_row_number_and_names_a_missing_part(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    np.savez(parts / "part-00001-of-00002.npz", __rows__=np.array([2, 3]), x=np.array([20, 30]))
    with pytest.raises(GalcatError, match="part 0 of 2 is missing"):
        merge_parts(parts, 4, 2)
    np.savez(parts / "part-00000-of-00002.npz", __rows__=np.array([1, 0]), x=np.array([10, 0]))
    assert merge_parts(parts, 4, 2)["x"].tolist() == [0, 10, 20, 30]


def test_two_ranks_equal_one_process_and_a_killed_rank_is_redone_alone(tmp_path):
    n = 37
    proc, out, calls = _torchrun(tmp_path, n, {"FAIL_RANK": "1"})
    assert proc.returncode != 0 and not out.exists()
    assert sorted(rank for rank, _ in calls) == ["0", "1"]
    proc, out, calls = _torchrun(tmp_path, n)
    assert proc.returncode == 0, proc.stderr[-3000:]
    redone = calls[2:]
    assert [rank for rank, _ in redone] == ["1"] and redone[0][1] == list(range(19, 37))
    with np.load(out) as merged:
        single = sharded_compute(n, lambda rows: {"double": rows * 2.0,
                                                  "vec": np.stack([rows, -rows], 1).astype(np.float32)},
                                 tmp_path / "single", {})  # fmt: skip
        np.testing.assert_array_equal(merged["double"], single["double"])
        np.testing.assert_array_equal(merged["vec"], single["vec"])


def test_galcat_embed_under_torchrun_equals_one_process(tiny, tmp_path):
    from astropy.table import Table

    run, store = tiny
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GALCAT_PROGRESS": "0"}
    args = ["embed", "--model", str(run), "--store", str(store), "--batch-size", "16"]
    one = subprocess.run([sys.executable, "-m", "galcat", *args, "--out", str(tmp_path / "one.fits")],
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert one.returncode == 0, one.stderr[-2000:]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = subprocess.run([*torchrun, "-m", "galcat", *args, "--out", str(tmp_path / "two.fits")],
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = Table.read(tmp_path / "one.fits"), Table.read(tmp_path / "two.fits")
    assert a.colnames == b.colnames and list(a["objid"]) == list(b["objid"])
    np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-6)
    assert list(a["pred_hubble9"]) == list(b["pred_hubble9"])
    assert not parts_dir_for(tmp_path / "two.fits").exists()
