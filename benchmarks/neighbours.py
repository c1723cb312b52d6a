"""Build and query time and peak memory of galcat's neighbour index at 10^6 rows.

Data: N random unit vectors of DIM dimensions around 1,000 cluster centres (an embedding has
structure; uniform noise would be the worst case for IVF). The automatic choice
(:func:`galcat.metrics.knn.KnnIndex.build`, ``kind="auto"``) is measured, and the exact flat index
as the baseline in the same process: build seconds, the time of one query (k=10) and of a
batch of 1,000, the IVF recall@10 against the flat result, and the peak RSS of the process.

    python benchmarks/neighbours.py                    # 10^6 x 32
    python benchmarks/neighbours.py --rows 200000      # quick

The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def measure_index(rows: int, dim: int, queries: int = 1000, k: int = 10, seed: int = 0) -> dict:
    """Timings of the automatic index and of the exact flat one on the same data."""
    import numpy as np

    from galcat.metrics.knn import KnnIndex

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    x = centres[rng.integers(0, 1000, rows)]
    x += 0.5 * rng.normal(size=x.shape).astype(np.float32)
    query = x[rng.choice(rows, queries, replace=False)]
    query += 0.05 * rng.normal(size=query.shape).astype(np.float32)
    out = {"rows": rows, "dim": dim, "k": k, "data_gb": round(x.nbytes / 1024**3, 3)}
    results = {}
    for name, kind in (("auto", "auto"), ("flat", "flat")):
        start = time.perf_counter()
        index = KnnIndex.build(x, kind=kind)
        built = time.perf_counter() - start
        start = time.perf_counter()
        index.search(query[:1], k)
        one = time.perf_counter() - start
        start = time.perf_counter()
        _, found = index.search(query, k)
        batch = time.perf_counter() - start
        results[name] = found
        out[name] = {
            **{key: index.meta[key] for key in ("backend", "kind", "nlist", "nprobe") if key in index.meta},
            "build_s": round(built, 2),
            "query_1_s": round(one, 4),
            f"query_{queries}_s": round(batch, 3),
        }
        print(f"{name:5s} {out[name]}", flush=True)
        del index
    hits = [len(set(a) & set(b)) for a, b in zip(results["auto"], results["flat"], strict=True)]
    out["recall_at_k_auto_vs_flat"] = round(float(np.mean(hits)) / k, 4)
    out["peak_rss_gb"] = round(_rss_gb(), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    summary = measure_index(args.rows, args.dim)
    summary["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
