"""Two galcat trainings on one machine: per-epoch time of each against one training alone.

For each thread setting (``auto``: galcat's default, the usable CPUs shared between the galcat
jobs running; an explicit ``--threads N``; ``all``: every usable CPU per job, what torch does on
its own), one ``galcat train`` runs alone, then two identical ones run at once. The per-epoch
time is the mean ``train_seconds`` of the run's ``fold0/metrics.jsonl``; the ratio printed is the
mean epoch time of the two concurrent runs over the epoch time alone (2.0 = the machine shares
itself fairly; the goal is <= 2.5 on 2 cores).

Usage::

    python benchmarks/shared_cpu.py [--settings auto,1,all] [--epochs 2] [--n-per-class 24]
                                    [--size 32] [--arch resnet18]

OMP_NUM_THREADS is removed from the runs' environment (it would be an explicit setting); the
last line printed is JSON with every time and ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from galcat.synth import make_synthetic_store
from galcat.threads import usable_cpus

REPO = Path(__file__).resolve().parents[1]


def _train(store: Path, out: Path, threads: str, args) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "GALCAT_THREADS", "MKL_NUM_THREADS")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "galcat", "--threads", threads, "train", "--store", str(store),
               "--stage", "ce", "--out", str(out), "--arch", args.arch, "--image-size", str(args.size),
               "--epochs", str(args.epochs), "--folds", "1", "--batch-size", "32", "--device", "cpu",
               "--patience", str(args.epochs + 1)]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _epoch_seconds(run: Path) -> float:
    lines = (run / "fold0" / "metrics.jsonl").read_text().splitlines()
    times = [json.loads(line)["train_seconds"] for line in lines if line.strip()]
    return sum(times) / len(times)


def _wait(procs) -> None:
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"galcat train failed ({proc.returncode}): {err.strip()[-400:]}")


def measure(store: Path, work: Path, setting: str, args) -> dict:
    threads = str(usable_cpus()) if setting == "all" else setting
    alone = work / f"{setting}-alone"
    started = time.perf_counter()
    _wait([_train(store, alone, threads, args)])
    alone_wall = time.perf_counter() - started
    pair = [work / f"{setting}-pair{i}" for i in range(2)]
    started = time.perf_counter()
    _wait([_train(store, run, threads, args) for run in pair])
    pair_wall = time.perf_counter() - started
    alone_s = _epoch_seconds(alone)
    pair_s = [_epoch_seconds(run) for run in pair]
    return {
        "setting": setting,
        "threads": threads,
        "epoch_s_alone": round(alone_s, 2),
        "epoch_s_concurrent": [round(s, 2) for s in pair_s],
        "ratio": [round(s / alone_s, 2) for s in pair_s],
        "wall_s_alone": round(alone_wall, 1),
        "wall_s_concurrent": round(pair_wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="auto,1,all", help="comma list: auto, a number, all")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-per-class", type=int, default=24)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--arch", default="resnet18")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="galcat-shared-cpu-") as tmp:
        work = Path(tmp)
        store = make_synthetic_store(work / "s.h5", n_per_class=args.n_per_class, size=args.size, votes=False)
        print(f"usable CPUs: {usable_cpus()}; os.cpu_count(): {os.cpu_count()}; load: {os.getloadavg()}")
        for setting in args.settings.split(","):
            result = measure(store, work, setting.strip(), args)
            results.append(result)
            pair = ", ".join(f"{s:.2f}" for s in result["epoch_s_concurrent"])
            ratio = ", ".join(f"{r:.2f}x" for r in result["ratio"])
            print(
                f"--threads {result['setting']:>4} ({result['threads']} each): alone "
                f"{result['epoch_s_alone']:.2f} s/epoch; two at once {pair} s/epoch; ratio {ratio}"
            )
    print(json.dumps({"results": results, "settings": vars(args), "usable_cpus": usable_cpus()}))


if __name__ == "__main__":
    main()
