"""Crash safety: a build killed with SIGKILL at random points resumes to an identical store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.store_support import local_source, synthetic_catalogue, write_image_folder

from galcat.errors import GalcatError
from galcat.store import BuildConfig, PreprocessConfig, build_store, open_store
from galcat.store.build import DELAY_ENV
from galcat.store.partial import PartialBuild

N = 150
TESTS = Path(__file__).resolve().parents[1]
CHILD = """
import sys
sys.path.insert(0, {tests!r})
from helpers.store_support import local_source, synthetic_catalogue
from galcat.store import BuildConfig, PreprocessConfig, build_store
build_store(synthetic_catalogue({n}), local_source({folder!r}), {out!r},
            BuildConfig(name="kill-test", workers=2, flush_every=4,
                        preprocess=PreprocessConfig(crop=0, size=24)))
"""


def _config() -> BuildConfig:
    return BuildConfig(
        name="kill-test", workers=2, flush_every=4, preprocess=PreprocessConfig(crop=0, size=24)
    )


def _journal_lines(out: Path) -> int:
    path = PartialBuild(out).journal
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _run_and_kill(script: Path, out: Path, after_rows: int) -> int:
    """Start the build, SIGKILL it once ``after_rows`` rows are journaled; return rows journaled."""
    env = {**os.environ, DELAY_ENV: "0.01", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while proc.poll() is None and _journal_lines(out) < after_rows and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"build finished before the kill: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return _journal_lines(out)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    table = synthetic_catalogue(N)
    missing = {"G0017", "G0101"}
    return write_image_folder(root / "img", list(table["objid"]), size=32, seed=3, skip=missing)


def test_sigkill_at_random_points_then_resume_gives_identical_store(tmp_path, folder):
    reference = tmp_path / "ref" / "s.h5"
    build_store(synthetic_catalogue(N), local_source(folder), reference, _config())

    out = tmp_path / "killed" / "s.h5"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(TESTS), n=N, folder=str(folder), out=str(out)))
    rng = np.random.default_rng(20)  # fixed: a failure names kill points that a rerun reproduces
    points = sorted(rng.choice(np.arange(1, N - 20), size=4, replace=False).tolist())
    progress = []
    for after in points:
        progress.append(_run_and_kill(script, out, after))
        assert PartialBuild(out).exists() and not out.exists()
        with pytest.raises(GalcatError, match="partial"):
            open_store(PartialBuild(out).path)
    assert progress == sorted(progress) and progress[-1] >= points[-1], progress

    done = sum(r["status"] != "failed" for r in PartialBuild(out).records().values())
    assert done >= points[-1] - 2 * len(points)  # rows that failed are journaled again by each run
    summary = build_store(synthetic_catalogue(N), local_source(folder), out, _config())
    assert summary.resumed_rows == done and summary.n_stored == N - 2
    assert not PartialBuild(out).exists()

    ref, got = open_store(reference), open_store(out)
    assert got.fingerprint == ref.fingerprint
    assert np.array_equal(got.read_images(slice(None)), ref.read_images(slice(None)))
    assert got.catalogue.colnames == ref.catalogue.colnames
    for name in ref.catalogue.colnames:
        assert np.array_equal(np.ma.getdata(got.catalogue[name]), np.ma.getdata(ref.catalogue[name])), name
        got_mask, ref_mask = np.ma.getmaskarray(got.catalogue[name]), np.ma.getmaskarray(ref.catalogue[name])
        assert np.array_equal(got_mask, ref_mask), name
    for key in ("source", "sha256", "status"):
        assert got.provenance(key) == ref.provenance(key)
    assert np.array_equal(got.label_codes("hubble9"), ref.label_codes("hubble9"))
    assert got.pixel_checksums == ref.pixel_checksums
    assert "G0017" not in set(got.catalogue["objid"])


def test_torn_journal_line_is_ignored(tmp_path, folder):
    out = tmp_path / "t.h5"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(TESTS), n=N, folder=str(folder), out=str(out)))
    _run_and_kill(script, out, 20)
    with open(PartialBuild(out).journal, "a") as fh:
        fh.write('{"row": 149, "status": "o')  # a write cut short by the crash
    summary = build_store(synthetic_catalogue(N), local_source(folder), out, _config())
    assert summary.n_stored == N - 2 and summary.resumed_rows >= 18


def test_stale_partial_of_a_finished_build_is_cleaned_up(tmp_path, folder):
    """A crash after the rename but before deleting the .partial must not block or confuse reruns."""
    out = tmp_path / "f.h5"
    table = synthetic_catalogue(N)[:10]
    build_store(table, local_source(folder), out, _config())
    from galcat.store.build import _identity

    fingerprint = open_store(out).fingerprint
    PartialBuild(out).create(10, (24, 24, 3), _identity(table, _config()))
    # rerunning the same command finishes the cleanup and reports the store as built
    summary = build_store(table, local_source(folder), out, _config())
    assert summary.n_stored == 10 and summary.fingerprint == fingerprint
    assert not PartialBuild(out).exists() and not PartialBuild(out).lockfile.exists()
    with pytest.raises(GalcatError, match="store exists"):  # nothing left to finish: the store exists
        build_store(table, local_source(folder), out, _config())
    assert len(open_store(out)) == 10


def test_a_second_build_of_the_same_store_cannot_write_concurrently(tmp_path, folder):
    out = tmp_path / "c.h5"
    table = synthetic_catalogue(N)[:10]
    from galcat.store.build import _identity

    holder = PartialBuild(out)
    holder.create(10, (24, 24, 3), _identity(table, _config()))
    with holder:
        with pytest.raises(GalcatError, match="another build"):
            build_store(table, local_source(folder), out, _config())
