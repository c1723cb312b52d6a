"""Training images/s of a ResNet fed from a galcat store vs synthetic in-memory tensors.

Four cells: {store, synthetic} x {fp32, bf16 autocast + channels_last}, the two precisions of
``galcat train --precision`` (``galcat.model.device.autocast`` / ``memory_format``). The store is a synthetic
galcat store written to a temporary folder (not timed); each cell runs warm-up steps, then times
``--steps`` full training steps (loader -> BatchAugment on the device -> forward -> CE backward ->
SGD step). The gap between "store" and "synthetic" is the input-pipeline cost; the bf16 / fp32
ratio per feed is what ``--precision bf16`` buys on this machine.

Usage (CPU here, the same command on a GPU machine)::

    python benchmarks/train_throughput.py [--arch resnet50] [--image-size 75] [--batch-size 64]
                                          [--steps 10] [--device auto] [--num-workers 0]

The last line printed is JSON with images/s per cell and the settings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from galcat.model.device import autocast, memory_format, resolve_device
from galcat.model.networks import GalaxyNet
from galcat.store.augment import BatchAugment
from galcat.store.loader import make_loader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_cell(args, device, store_path, feed: str, precision: str) -> float:
    torch.manual_seed(0)
    fmt = memory_format(device, precision)
    model = GalaxyNet(args.arch, 128, class_names=[str(i) for i in range(9)], image_size=args.image_size)
    model = model.to(device, memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    augment = BatchAugment(image_size=args.image_size, train=True).to(device)
    if feed == "store":
        workers = args.num_workers
        loader = make_loader(store_path, None, batch_size=args.batch_size, shuffle=True, seed=0,
                             num_workers=workers, label_scheme="hubble9", drop_last=True,
                             pin_memory=device.type == "cuda", persistent_workers=workers > 0)  # fmt: skip
        batches = itertools.cycle(loader)
    else:
        size = args.image_size
        images = torch.randint(0, 256, (args.batch_size, size, size, 3), dtype=torch.uint8, device=device)
        labels = torch.randint(0, 9, (args.batch_size,), device=device)
        batches = itertools.repeat({"images": images, "labels": labels})

    def step():
        batch = next(batches)
        x = augment(batch["images"].to(device, non_blocking=True)).contiguous(memory_format=fmt)
        y = batch["labels"].to(device, non_blocking=True)
        with autocast(device, precision):
            out = model(x)
        loss = F.cross_entropy(out["logits"].float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - start)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--image-size", type=int, default=75)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--n-images", type=int, default=0, help="store size (default: enough for all steps)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--num-workers", type=int, default=0)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    from galcat.synth import make_synthetic_store

    n_images = args.n_images or args.batch_size * (args.steps + args.warmup)
    per_class = max(1, -(-n_images // 9))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        store_path = make_synthetic_store(Path(tmp) / "bench.h5", n_per_class=per_class, size=args.image_size)
        for feed, precision in itertools.product(("synthetic", "store"), ("fp32", "bf16")):
            key = f"{feed}_{'bf16_channels_last' if precision == 'bf16' else 'fp32'}_img_s"
            results[key] = round(time_cell(args, device, store_path, feed, precision), 2)
            print(f"{key}: {results[key]}", flush=True)
        for feed in ("synthetic", "store"):
            ratio = results[f"{feed}_bf16_channels_last_img_s"] / results[f"{feed}_fp32_img_s"]
            results[f"{feed}_bf16_over_fp32"] = round(ratio, 3)
            print(f"{feed}: bf16 + channels_last / fp32 = {ratio:.2f}x", flush=True)
    summary = {"device": str(device), "arch": args.arch, "image_size": args.image_size,
               "batch_size": args.batch_size, "steps": args.steps, "threads": torch.get_num_threads(),
               **results}  # fmt: skip
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
