"""Time and peak memory of galcat's retrieval metrics vs PML's AccuracyCalculator.

Each measurement runs in a fresh subprocess (so imports, allocator caches and earlier runs do
not leak into it) and reports the peak RSS of that process (``ru_maxrss``), which counts
native (BLAS, faiss, torch) allocations that tracemalloc cannot see. The parent also reads
``RUSAGE_CHILDREN`` as a cross-check. Data: N random 128-d embeddings in 9 classes, query =
reference (same-source). PML runs its default k-NN (faiss IndexFlatL2) with k="max_bin_count"
on the same L2-normalised embeddings.

    python benchmarks/retrieval.py                 # 5k, 20k (both) and the full 200k (galcat only)
    python benchmarks/retrieval.py --sizes 5000 --big 0   # quick

The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

DIM, CLASSES = 128, 9


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: on a shared machine the wall clock measures the
    load as much as the code, so the CPU time is reported beside it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(impl: str, n: int) -> dict:
    """One measurement, inside the child process."""
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLASSES, DIM)).astype(np.float32)
    labels = rng.integers(0, CLASSES, n)
    x = centres[labels] * 0.3 + rng.normal(size=(n, DIM)).astype(np.float32)
    if impl == "pml":
        import torch
        from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

        from galcat.metrics.knn import l2_normalize

        x = l2_normalize(x)
        calc = AccuracyCalculator(
            include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
            k="max_bin_count",
            device=torch.device("cpu"),
        )
        baseline = _rss_gb()
        start, cpu = time.perf_counter(), _cpu_s()
        out = calc.get_accuracy(query=x, query_labels=labels)
        metrics = {"precision_at_1": out["precision_at_1"], "map_at_r": out["mean_average_precision_at_r"]}
    else:
        from galcat.metrics.retrieval import retrieval_metrics

        # "galcat-part": only the first 10% of the queries against all N references (the same
        # per-query work and block memory), for an extrapolated time when the full run is too long
        n_query = n // 10 if impl == "galcat-part" else n
        baseline = _rss_gb()
        start, cpu = time.perf_counter(), _cpu_s()
        out = retrieval_metrics(x[:n_query], labels[:n_query], x, labels, ref_includes_query=True)
        metrics = {"precision_at_1": out["precision_at_1"], "map_at_r": out["map_at_r"]}
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    peak = _rss_gb()
    return {
        "impl": impl, "n": n, "seconds": seconds, "cpu_s": cpu, "peak_gb": peak, "baseline_gb": baseline,
        **metrics,
    }  # fmt: skip


def measure(impl: str, n: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", impl, str(n)], stdout=subprocess.PIPE, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{impl} at n={n} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["children_maxrss_gb"] = max(before, after) / 1024**2
    print(
        f"{impl:6s} n={n:>7d}  {result['seconds']:8.2f} s ({result['cpu_s']:.1f} CPU s)  "
        f"peak RSS {result['peak_gb']:.3f} GB "
        f"(after imports+data {result['baseline_gb']:.3f} GB)  P@1 {result['precision_at_1']:.6f} "
        f"MAP@R {result['map_at_r']:.6f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "N"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--big", type=int, default=200000, help="galcat-only size (0 to skip)")
    parser.add_argument(
        "--big-mode",
        choices=("full", "part", "both"),
        default="full",
        help="big size: all queries (measured), 10%% of them (time x10 = extrapolated), or part then full",
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    results = {}
    for n in args.sizes:
        for impl in ("galcat", "pml"):
            results[(impl, n)] = measure(impl, n)
    summary = {}
    for n in args.sizes:
        g, p = results[("galcat", n)], results[("pml", n)]
        tag = f"{n // 1000}k"
        summary[f"speedup_vs_pml_{tag}"] = round(p["seconds"] / g["seconds"], 2)
        summary[f"cpu_ratio_vs_pml_{tag}"] = round(p["cpu_s"] / g["cpu_s"], 2)
        summary[f"mem_ratio_vs_pml_{tag}"] = round(g["peak_gb"] / p["peak_gb"], 3)
        summary[f"mem_increment_ratio_vs_pml_{tag}"] = round(
            (g["peak_gb"] - g["baseline_gb"]) / max(p["peak_gb"] - p["baseline_gb"], 1e-9), 3
        )
        summary[f"max_abs_diff_{tag}"] = max(abs(g[k] - p[k]) for k in ("precision_at_1", "map_at_r"))
    tag = f"{args.big // 1000}k"
    if args.big and args.big_mode in ("part", "both"):
        part = measure("galcat-part", args.big)
        summary[f"galcat_{tag}_s_extrapolated_from_10pct"] = round(10 * part["seconds"], 1)
        summary[f"galcat_{tag}_peak_gb"] = round(part["peak_gb"], 3)
        print(json.dumps(summary), flush=True)
    if args.big and args.big_mode in ("full", "both"):
        big = measure("galcat", args.big)
        summary[f"galcat_{tag}_s"] = round(big["seconds"], 1)
        summary[f"galcat_{tag}_cpu_s"] = round(big["cpu_s"], 1)
        summary[f"galcat_{tag}_peak_gb"] = round(big["peak_gb"], 3)
    summary["load_average_after"] = round(os.getloadavg()[0], 2)
    print(f"load average after: {os.getloadavg()}", flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
