"""DDP smoke test: torchrun with 2 CPU processes (gloo) trains a tiny dml run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import torch

from galcat.model.distributed import DistInfo, shard


def test_rank_shards_are_disjoint_and_equal_sized():
    rows = np.arange(101)
    parts = [shard(rows, DistInfo(rank=r, world=3), seed=7) for r in range(3)]
    assert len({len(p) for p in parts}) == 1 and len(parts[0]) == 33
    assert not set(parts[0]) & set(parts[1]) and not set(parts[1]) & set(parts[2])
    assert np.array_equal(shard(rows, DistInfo(), seed=7), rows)


def test_torchrun_two_cpu_processes_train_dml_with_proxies(tmp_path):
    from galcat.synth import make_synthetic_store

    store = make_synthetic_store(tmp_path / "s.h5", ["E", "Sc", "Irr"], n_per_class=8, size=32)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GALCAT_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "galcat", "train", "--store", str(store), "--stage", "dml", "--loss", "proxy-nca",
           "--miner", "pair", "--folds", "1", "--epochs", "1", "--batch-size", "4", "--max-steps", "2",
           "--embedding-dim", "16", "--device", "cpu", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    log = (out / "fold0" / "metrics.jsonl").read_text().splitlines()
    assert len(log) == 1  # only rank 0 writes
    record = json.loads(log[0])
    assert record["steps"] == 2 and np.isfinite(record["train_loss"])
    ckpt = torch.load(out / "fold0" / "last.pt", weights_only=True)
    assert ckpt["objective"]["dml_loss.proxies"].shape == (9, 16)
    assert json.loads((out / "config.json").read_text())["arch"] == "resnet18"
