"""Synthetic galaxies per second (``galcat.synth.render_galaxy``) against decoding real cutouts.

The baseline, in the same process: open a real 424x424 Galaxy Zoo JPEG (``gz2/kaggle/images``
under --data) and resize it to the same size with PIL, i.e. what one real training image costs.
A ratio >= 1 means synthetic tests are no slower than the same tests on real images.

Usage: ``python benchmarks/render.py [--data PATH] [--n 300] [--size 75]``.
The last line printed is JSON: ``{"render_img_s": ..., "decode_img_s": ..., "ratio": ...}``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

from PIL import Image

from galcat.synth import SYNTH_CLASSES, render_galaxy

REPO = Path(__file__).resolve().parents[1]


def rate(n: int, step) -> float:
    start = time.perf_counter()
    for i in range(n):
        step(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--size", type=int, default=75)
    args = parser.parse_args()
    jpegs = [p.read_bytes() for p in sorted((args.data / "gz2" / "kaggle" / "images").glob("*.jpg"))[:50]]

    def decode(i: int) -> None:
        with Image.open(io.BytesIO(jpegs[i % len(jpegs)])) as im:
            im.convert("RGB").resize((args.size, args.size))

    render_s = rate(args.n, lambda i: render_galaxy(SYNTH_CLASSES[i % len(SYNTH_CLASSES)], i, args.size))
    decode_s = rate(args.n, decode)
    print(f"render {render_s:.0f} img/s, real JPEG decode+resize {decode_s:.0f} img/s")
    print(json.dumps({"render_img_s": render_s, "decode_img_s": decode_s, "ratio": render_s / decode_s}))


if __name__ == "__main__":
    main()
