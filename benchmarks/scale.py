"""galcat past one machine: a store of 10^6 galaxies, sharded embedding, HATS, lsdb, k-NN at 10^6 rows.

Stages (each in its own process, so that each reports its own peak resident memory):

* ``store``: a synthetic store of ``--rows`` 32 px galaxies (galcat's renderer draws a pool of
  galaxies; each row is one of them under one of the 8 flips/90-degree turns), streamed to disk
  in blocks, positions uniform on the sky;
* ``embed-1`` / ``embed-2``: ``galcat embed`` of the first ``--embed-rows`` rows with a ResNet18 run,
  in one process and under ``torchrun --nproc_per_node 2`` (rows/s; both outputs are compared);
* ``hats``: the 10^6-row catalogue with a 16-d embedding column and predictions written as HATS;
* ``xmatch``: a second catalogue, every position moved by 1 arcsec, matched to the first with lsdb
  (within 2 arcsec); the pairs are checked against astropy's ``match_to_catalog_sky`` on every row;
* ``index``: ``benchmarks/neighbours.py`` at 10^6 x 64 clustered vectors: the automatic index (faiss
  IVF at 10^6 rows) and the exact flat one, build time, one query and 1,000 queries (k = 10), recall.

Usage: ``python benchmarks/scale.py [--rows 1000000] [--embed-rows 20000] [--work DIR]``. The last
line printed is JSON with every stage's seconds and peak RSS (MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BLOCK = 8192


def _peak_mb() -> float:
    """Peak RSS of this process and of every child it waited for, in MB (Linux ru_maxrss is KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def _sky(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def _catalogue(n: int, seed: int = 0):
    from astropy.table import Table

    from galcat.schemes import HUBBLE9
    from galcat.tables import annotate_position_columns

    ra, dec = _sky(n, seed)
    labels = np.asarray(HUBBLE9)[np.random.default_rng(seed + 1).integers(0, len(HUBBLE9), n)]
    table = Table(
        {"objid": np.char.add("S", np.arange(n).astype(str)), "ra": ra, "dec": dec, "hubble9": labels}
    )
    table.meta.update(catalogue="scale-synthetic", label_schemes={"hubble9": list(HUBBLE9)})
    return annotate_position_columns(table)


def stage_store(work: Path, rows: int, size: int = 32) -> dict:
    from galcat.schemes import HUBBLE9
    from galcat.store.writer import atomic_destination, write_store_file
    from galcat.synth import render_galaxy

    pool = np.stack([render_galaxy(HUBBLE9[i % 9], seed=i, size=size) for i in range(900)])
    variants = np.concatenate([np.rot90(pool, k, axes=(1, 2)) for k in range(4)])
    variants = np.concatenate([variants, variants[:, :, ::-1]])  # 8 x 900 distinct images
    table = _catalogue(rows)
    table["pool_image"] = np.random.default_rng(2).integers(0, len(variants), rows)

    def blocks():
        for start in range(0, rows, BLOCK):
            yield variants[table["pool_image"][start : start + BLOCK]]

    provenance = {
        "source": np.full(rows, "synthetic"),
        "sha256": np.full(rows, ""),
        "status": np.full(rows, "ok"),
    }
    out = work / "scale.h5"
    with atomic_destination(out, overwrite=True) as tmp:
        write_store_file(tmp, table, (size, size, 3), blocks(), provenance, json.dumps({"builder": "scale"}))
    return {"store_mb": round(out.stat().st_size / 1e6, 1)}


def stage_embed(work: Path, embed_rows: int, procs: int) -> dict:
    from galcat.model import TrainConfig, train
    from galcat.schemes import HUBBLE9
    from galcat.store import open_store, write_store
    from galcat.synth import make_synthetic_store

    run, subset = work / "run", work / "subset.h5"
    if not (run / "summary.json").exists():
        tiny = work / "train.h5"
        make_synthetic_store(tiny, HUBBLE9, n_per_class=8, size=32, seed=0, overwrite=True)
        config = TrainConfig(
            store=str(tiny), stage="ce", out=str(run), arch="resnet18", image_size=32, folds=1,
            epochs=1, batch_size=32, device="cpu", embedding_dim=64, progress=False,
        )  # fmt: skip
        train(config)
    if not subset.exists():
        big = open_store(work / "scale.h5")
        write_store(subset, big.catalogue[:embed_rows], big.read_images(slice(0, embed_rows)))
    out = work / f"embed{procs}.parquet"
    out.unlink(missing_ok=True)
    args = ["embed", "--model", str(run), "--store", str(subset), "--out", str(out), "--batch-size", "256"]
    if procs == 1:
        command = [sys.executable, "-m", "galcat", *args]
    else:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(procs),
            "-m",
            "galcat",
            *args,
        ]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // procs))}
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    return {"rows": embed_rows, "seconds": round(seconds, 1), "rows_per_s": round(embed_rows / seconds, 1)}


def _embedded_catalogue(rows: int):
    table = _catalogue(rows)
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(rows, 16)).astype(np.float32)
    table["embedding"] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    table["pred_prob"] = rng.random(rows).astype(np.float32)
    return table


def stage_hats(work: Path, rows: int) -> dict:
    from galcat.hats import write_hats

    table = _embedded_catalogue(rows)
    t0 = time.perf_counter()
    write_hats(table, work / "scale.hats", overwrite=True)
    return {"rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def stage_xmatch(work: Path, rows: int) -> dict:
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from galcat.hats import crossmatch_hats, write_hats

    ra, dec = _sky(rows, 0)
    here = SkyCoord(ra * u.deg, dec * u.deg)
    moved = here.directional_offset_by(np.random.default_rng(9).uniform(0, 360, rows) * u.deg, 1 * u.arcsec)
    other = Table(
        {"objid": np.char.add("M", np.arange(rows).astype(str)), "ra": moved.ra.deg, "dec": moved.dec.deg}
    )
    write_hats(other, work / "moved.hats", overwrite=True)
    t0 = time.perf_counter()
    matched = crossmatch_hats(work / "scale.hats", work / "moved.hats", 2.0)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    index, sep, _ = here.match_to_catalog_sky(moved)  # the baseline, in the same process
    astropy_s = time.perf_counter() - t0
    expected = np.where(sep < 2 * u.arcsec, index, -1)
    got = np.full(rows, -1)
    got[np.char.lstrip(np.asarray(matched["objid_a"], dtype=str), "S").astype(int)] = np.char.lstrip(
        np.asarray(matched["objid_b"], dtype=str), "M"
    ).astype(int)
    return {"rows": rows, "pairs": len(matched), "seconds": round(seconds, 1),
            "astropy_seconds": round(astropy_s, 3), "astropy_over_lsdb": round(astropy_s / seconds, 3),
            "agree_with_astropy": int((got == expected).sum())}  # fmt: skip


def stage_index(work: Path, rows: int, dim: int = 64) -> dict:
    """The neighbour-index benchmark (clustered unit vectors, automatic index vs exact flat)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from neighbours import measure_index

    result = measure_index(rows, dim)
    flat, auto = result["flat"]["query_1000_s"], result["auto"]["query_1000_s"]
    result["query_1000_flat_over_auto"] = round(flat / auto, 1)
    return result


STAGES = {
    "store": lambda a: stage_store(a.work, a.rows),
    "embed-1": lambda a: stage_embed(a.work, a.embed_rows, 1),
    "embed-2": lambda a: stage_embed(a.work, a.embed_rows, 2),
    "hats": lambda a: stage_hats(a.work, a.rows),
    "xmatch": lambda a: stage_xmatch(a.work, a.rows),
    "index": lambda a: stage_index(a.work, a.rows),
}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--embed-rows", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of stages to run")
    args = parser.parse_args(argv)
    if args.stage:  # one stage, in this process: print its figures and peak memory
        t0 = time.perf_counter()
        result = STAGES[args.stage](args)
        result.update(wall_s=round(time.perf_counter() - t0, 1), peak_rss_mb=_peak_mb())
        print(json.dumps(result))
        return result
    work = args.work or Path(tempfile.mkdtemp(prefix="galcat-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for stage in args.stages.split(","):
        command = [sys.executable, __file__, "--stage", stage, "--rows", str(args.rows),
                   "--embed-rows", str(args.embed_rows), "--work", str(work)]  # fmt: skip
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results[stage] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{stage}: {results[stage]}", flush=True)
    if "embed-1" in results and "embed-2" in results:  # both in this call: the 2-process speed-up
        one, two = results["embed-1"]["rows_per_s"], results["embed-2"]["rows_per_s"]
        results["embed_2_over_1"] = round(two / one, 2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
