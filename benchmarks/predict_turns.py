"""Inference cost of four-turn averaging (``--predict-turns 4``) against one view.

A synthetic galcat store (written to a temporary folder, not timed) is run through
``galcat.model.predictor.Predictor`` with the same network twice per repeat, ``rotations=1`` and
``rotations=4``, alternating so both see the same machine load. The ratio is the time of four
views over one view: four forward passes cost at most 4x, less where reading and decoding the
store is a fixed share of the work.

Usage::

    python benchmarks/predict_turns.py [--images 1152] [--image-size 64] [--arch resnet18]
                                              [--repeats 3] [--device auto]

The last line printed is JSON with images/s for each setting and the ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from galcat.model.device import resolve_device
from galcat.model.networks import GalaxyNet
from galcat.model.predictor import Predictor
from galcat.schemes import HUBBLE9
from galcat.synth import make_synthetic_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1152)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    classes = list(HUBBLE9)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "synthetic.h5"
        per_class = -(-args.images // len(classes))
        make_synthetic_store(store, classes, n_per_class=per_class, size=args.image_size, seed=0)
        torch.manual_seed(0)
        model = GalaxyNet(args.arch, class_names=classes, image_size=args.image_size).to(device)
        predictor = Predictor([(0, model)], batch_size=args.batch_size)
        predictor.predict_store(store)  # warm-up (allocator, store cache)
        seconds = {1: [], 4: []}
        for _ in range(args.repeats):
            for views in (1, 4):
                model.rotations = views
                started = time.perf_counter()
                pred = predictor.predict_store(store)
                seconds[views].append(time.perf_counter() - started)
        n = len(pred.index)
    best = {views: min(times) for views, times in seconds.items()}
    for views in (1, 4):
        print(f"rotations {views}: {n / best[views]:.0f} images/s (best of {args.repeats}, {n} images)")
    ratio = best[4] / best[1]
    print(f"four views take {ratio:.2f}x the time of one")
    print(json.dumps({
        "device": str(device), "arch": args.arch, "image_size": args.image_size, "images": n,
        "images_per_s_1_view": round(n / best[1], 1), "images_per_s_4_views": round(n / best[4], 1),
        "time_ratio_4_over_1": round(ratio, 2), "torch_threads": torch.get_num_threads(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
