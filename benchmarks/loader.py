"""Images/s of the HDF5 store loader (+ BatchAugment on CPU) against the paper's per-image PIL pipeline.

Both read the same real Galaxy Zoo JPEGs (``gz2/kaggle/images`` under --data) in one run:

* naive: torchvision ``ImageFolder``-style dataset: open JPEG, CenterCrop(224), Resize(75), random
  horizontal/vertical flips, ToTensor, Normalize (ImageNet), DataLoader with shuffle;
* store: the JPEGs are decoded and preprocessed once (``galcat.store.preprocess``) into a temporary
  store (not timed), then ``make_loader`` + ``BatchAugment`` (flips, rot90, normalise) are timed,
  streaming from HDF5 (``store_img_s``, the headline ratio, the default store: Blosc-LZ4 in chunks
  of 16 rows); also reported: the same from an archival ``--compression gzip`` store and a
  ``--compression none`` store, the loader alone (augmentation moved to the GPU) and
  ``in_memory=True`` epochs after a one-time load.

On a shared machine the wall-clock rates move with the load; ``*_cpu_s`` figures (this process's CPU
time, exact with ``--num-workers 0``) and their ratios are the ones to compare across runs.

Usage: ``python benchmarks/loader.py [--data PATH] [--limit N] [--batch-size 64] [--num-workers 0]``.
The last line printed is JSON: ``{"naive_img_s": ..., "store_img_s": ..., "ratio": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from astropy.table import Table
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from galcat.store import preprocess, write_store
from galcat.store.augment import IMAGENET_MEAN, IMAGENET_STD, BatchAugment
from galcat.store.loader import make_loader

REPO = Path(__file__).resolve().parents[1]


class JpegDataset(Dataset):
    """The paper's loader: one PIL decode + transform chain per image."""

    def __init__(self, files, labels):
        self.files, self.labels = files, labels
        self.transform = transforms.Compose(
            [
                transforms.CenterCrop(224),
                transforms.Resize((75, 75)),
                transforms.RandomHorizontalFlip(),
                transforms.RandomVerticalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as img:
            return self.transform(img.convert("RGB")), self.labels[i]


def _images_and_labels(data: Path, limit: int | None):
    folder = data / "gz2" / "kaggle"
    table = Table.read(folder / "labels.csv", format="ascii.csv", converters={"GalaxyID": str})
    files, labels = [], []
    for row in table:
        path = folder / "images" / f"{row['GalaxyID']}.jpg"
        if path.exists():
            files.append(path)
            labels.append(str(row["label"]))
        if limit and len(files) >= limit:
            break
    if not files:
        sys.exit(f"no images found under {folder / 'images'} (set --data or GALCAT_TEST_DATA)")
    return files, labels


def _decode_all(files) -> np.ndarray:
    return np.stack([preprocess(np.asarray(Image.open(f).convert("RGB"))) for f in files])


def _build_store(files, labels, images, out: Path, compression: str | None = None) -> Path:
    classes = sorted(set(labels))
    table = Table(
        {
            "objid": [f.stem for f in files],
            "ra": np.zeros(len(files)),
            "dec": np.zeros(len(files)),
            "label": labels,
        }
    )
    table.meta.update(catalogue="gz2-kaggle-subset", label_schemes={"label": classes})
    return write_store(out, table, images, **({"compression": compression} if compression else {}))


def _rate(batches, count) -> tuple[float, float]:
    """Images per second of wall time and of this process's CPU time (robust to a busy shared box
    when num_workers=0; with workers the CPU figure misses their time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    for batch in batches:
        n += count(batch)
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


def main(argv=None) -> dict:
    default_data = os.environ.get("GALCAT_TEST_DATA", str(REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default_data), help="shared data root")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (both pipelines)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (both pipelines)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    files, labels = _images_and_labels(args.data, args.limit)
    codes = {c: i for i, c in enumerate(sorted(set(labels)))}

    naive = DataLoader(
        JpegDataset(files, [codes[c] for c in labels]),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
    )
    naive_rate, naive_cpu = _rate(naive, lambda b: len(b[0]))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        decoded = _decode_all(files)
        store = _build_store(files, labels, decoded, Path(tmp) / "bench.h5")
        build_s = time.perf_counter() - t0
        plain = _build_store(files, labels, decoded, Path(tmp) / "bench_none.h5", compression="none")
        archival = _build_store(files, labels, decoded, Path(tmp) / "bench_gzip.h5", compression="gzip")
        aug = BatchAugment(image_size=75, train=True)
        loader_kw = dict(
            batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers, label_scheme="label"
        )
        loader_rate, loader_cpu = _rate(
            make_loader(store, None, seed=1, **loader_kw), lambda b: len(b["index"])
        )
        store_rate, store_cpu = _rate(
            make_loader(store, None, seed=0, **loader_kw), lambda b: len(aug(b["images"]))
        )
        plain_rate, plain_cpu = _rate(
            make_loader(plain, None, seed=0, **loader_kw), lambda b: len(aug(b["images"]))
        )
        gzip_rate, gzip_cpu = _rate(
            make_loader(archival, None, seed=0, **loader_kw), lambda b: len(aug(b["images"]))
        )
        t0 = time.perf_counter()
        held = make_loader(store, None, seed=0, in_memory=True, **loader_kw)
        load_s = time.perf_counter() - t0
        held_rate, held_cpu = _rate(held, lambda b: len(aug(b["images"])))
    result = {
        "naive_img_s": round(naive_rate, 1),
        "store_img_s": round(store_rate, 1),
        "ratio": round(store_rate / naive_rate, 1),
        "naive_img_cpu_s": round(naive_cpu, 1),
        "store_img_cpu_s": round(store_cpu, 1),
        "ratio_cpu": round(store_cpu / naive_cpu, 1),
        "store_gzip_img_s": round(gzip_rate, 1),
        "ratio_gzip": round(gzip_rate / naive_rate, 1),
        "store_gzip_img_cpu_s": round(gzip_cpu, 1),
        "ratio_gzip_cpu": round(gzip_cpu / naive_cpu, 1),
        "store_uncompressed_img_s": round(plain_rate, 1),
        "ratio_uncompressed": round(plain_rate / naive_rate, 1),
        "store_uncompressed_img_cpu_s": round(plain_cpu, 1),
        "ratio_uncompressed_cpu": round(plain_cpu / naive_cpu, 1),
        "store_loader_only_img_s": round(loader_rate, 1),
        "store_loader_only_img_cpu_s": round(loader_cpu, 1),
        "store_in_memory_img_s": round(held_rate, 1),
        "store_in_memory_img_cpu_s": round(held_cpu, 1),
        "in_memory_load_s": round(load_s, 2),
        "n_images": len(files),
        "batch_size": args.batch_size,
        "num_workers": args.num_workers,
        "threads": args.threads,
        "store_build_s": round(build_s, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
