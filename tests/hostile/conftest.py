"""Fixtures of the hostile-input suite: a tiny labelled image folder with bad files, a read-only
folder and a small file system (a tmpfs mount when root may mount, else a file-size limit)."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from helpers.hostile_images import bomb_png, encoded, gradient, png16
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
GOOD_IDS = [f"g{i:02d}" for i in range(10)]


def digest(path: Path) -> str:
    """sha256 of a file, or of every file below a folder (names included): 'byte-identical' checks."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def folder(tmp_path) -> tuple[Path, Path]:
    """(labels.csv, images/): 10 good 20 px PNGs, 'Gal_One.JPG' for id gal_one, a 16-bit PNG, a
    900-megapixel bomb, a file of garbage bytes, and one id with no file at all."""
    images = tmp_path / "images"
    images.mkdir()
    for i, objid in enumerate(GOOD_IDS):
        Image.fromarray(gradient(20, seed=i)).save(images / f"{objid}.png")
    Image.fromarray(gradient(20, seed=99)).save(images / "Gal_One.JPG", format="JPEG", quality=95)
    deep = (gradient(20, seed=7)[:, :, 0].astype(np.uint16) * 257 + 128).astype(np.uint16)
    (images / "deep16.png").write_bytes(png16(deep))
    (images / "bomb.png").write_bytes(bomb_png())
    (images / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (images / "rgba.png").write_bytes(encoded(Image.fromarray(gradient(20, seed=3)).convert("RGBA")))
    ids = [*GOOD_IDS, "gal_one", "deep16", "bomb", "junk", "rgba", "absent"]
    labels = tmp_path / "labels.csv"
    labels.write_text("objid,label\n" + "".join(f"{o},{'a' if i % 2 else 'b'}\n" for i, o in enumerate(ids)))
    return labels, images


def build_args(labels: Path, images: Path, out: Path, *extra) -> list:
    return ["build", "folder", "--catalogue", labels, "--images", images, "--out", out,
            "--crop", "0", "--size", "16", "--workers", "2", *extra]  # fmt: skip


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder nobody may write to: chmod for ordinary users, a read-only tmpfs for root."""
    path = tmp_path / "readonly"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


class SmallDisk:
    """A folder on a file system with ``kb`` kilobytes free: a tmpfs mount when this process may
    mount (root), else a plain folder where the CLI runs in a subprocess under RLIMIT_FSIZE."""

    def __init__(self, root: Path, kb: int):
        self.path = root / f"small-{uuid.uuid4().hex[:6]}"
        self.path.mkdir()
        self.kb = kb
        self.mounted = os.geteuid() == 0 and self._mount(kb)

    def _mount(self, kb: int) -> bool:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", str(self.path)], capture_output=True
        )
        return done.returncode == 0

    def grow(self, kb: int) -> None:
        """'Free space': a bigger tmpfs, or no file-size limit."""
        self.kb = kb
        if self.mounted:
            subprocess.run(["mount", "-o", f"remount,size={kb}k", str(self.path)], check=True)

    def run(self, args) -> subprocess.CompletedProcess:
        """The galcat CLI in a subprocess (its own file-size limit when there is no mount)."""
        return self.python("from galcat.cli import main; main()", *args)

    def python(self, code: str, *args) -> subprocess.CompletedProcess:
        """``python -c code args`` in a subprocess (its own file-size limit when there is no mount)."""
        limit = None if self.mounted or self.kb >= 1 << 20 else self.kb * 1024

        def preexec():
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        return subprocess.run(
            [sys.executable, "-c", code, *map(str, args)],
            capture_output=True, text=True, timeout=300, preexec_fn=preexec, env=env,
        )  # fmt: skip

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    disks = []

    def make(kb: int) -> SmallDisk:
        disks.append(SmallDisk(tmp_path, kb))
        return disks[-1]

    yield make
    for disk in disks:
        disk.close()
