"""Hostile inputs to `galcat build` and `galcat info`: each gives one line and exit code 2 (or a
recorded, skipped row), never a traceback, and loses nothing: inputs stay byte-identical and an
interrupted or failed build resumes to the fingerprint of an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from helpers.cli import invoke, one_line_error

from galcat.images import HttpConfig, LocalArchiveSource, SkyServerSource
from galcat.store import BuildConfig, PreprocessConfig, build_store, open_store
from galcat.store.partial import PartialBuild

from .conftest import GOOD_IDS, build_args, digest


def _reference_fingerprint(tmp_path, labels, images) -> str:
    out = tmp_path / "reference" / "ref.h5"
    out.parent.mkdir()
    assert invoke(*build_args(labels, images, out)).exit_code == 0
    return open_store(out).fingerprint


def test_build_refuses_to_write_over_its_own_inputs(tmp_path, folder):
    labels, images = folder
    before = digest(labels), digest(images)
    line = one_line_error(
        invoke(*build_args(labels, images, labels, "--overwrite")), str(labels), "--catalogue"
    )
    assert "--out" in line
    alias = labels.parent / "sub" / ".." / labels.name  # the same file under another spelling
    (labels.parent / "sub").mkdir()
    one_line_error(invoke(*build_args(labels, images, alias, "--overwrite")), "--catalogue")
    failures_alias = tmp_path / "s.failures.ecsv"  # the failures list would replace the catalogue
    failures_alias.write_bytes(labels.read_bytes())
    one_line_error(invoke(*build_args(failures_alias, images, tmp_path / "s.h5")), "failures", "--catalogue")
    assert (digest(labels), digest(images)) == before and not list(tmp_path.glob("*.partial*"))


def test_every_image_mode_stored_and_bad_images_are_recorded_rows(tmp_path, folder):
    """16-bit scaled (not saturated), RGBA composited, case-insensitive names; the bomb, the garbage
    and the missing file are failed rows in the totals, the failures list and `galcat info`."""
    labels, images = folder
    before = digest(images)
    out = tmp_path / "s.h5"
    result = invoke(*build_args(labels, images, out))
    assert result.exit_code == 0, result.output
    assert "13 of 16 rows" in result.stdout and "failed=3" in result.stdout
    store = open_store(out)
    ids = list(store.catalogue["objid"])
    assert ids == [*GOOD_IDS, "gal_one", "deep16", "rgba"]
    deep = store.read_images(slice(11, 12))[0]
    assert (deep == 255).mean() < 0.05 and deep.std() > 10  # scaled, not clipped to white
    failures = Table.read(tmp_path / "s.failures.ecsv", format="ascii.ecsv")
    why = dict(zip(failures["objid"], failures["error"], strict=True))
    assert set(why) == {"bomb", "junk", "absent"}
    assert "megapixel" in why["bomb"] or "decompression bomb" in why["bomb"]
    assert "bomb.png" in why["bomb"] and "absent" in why["absent"]
    info = invoke("info", out)
    assert (
        info.exit_code == 0 and "16 rows considered, 13 stored" in info.stdout and "failed=3" in info.stdout
    )
    assert digest(images) == before


def test_a_rerun_does_not_stop_on_the_same_bad_row(tmp_path, folder):
    """A resumed build retries failed rows (the bomb fails again, as a row) and finishes."""
    labels, images = folder
    out = tmp_path / "r.h5"
    from galcat.catalogues import read_catalogue
    from galcat.store.build import _identity

    table = read_catalogue("folder", labels, images=images)
    cfg = BuildConfig(name="folder", workers=2, preprocess=PreprocessConfig(crop=0, size=16))
    part = PartialBuild(out)
    part.create(len(table), (16, 16, 3), _identity(table, cfg))
    with part:
        bomb = list(table["objid"]).index("bomb")
        part.commit([{"row": bomb, "objid": "bomb", "status": "failed", "sha256": "", "origin": "",
                      "error": "interrupted", "pixels": ""}])  # fmt: skip
    summary = build_store(table, LocalArchiveSource(images), out, cfg)
    assert summary.n_stored == 13 and summary.status_counts["failed"] == 3


@pytest.mark.parametrize(
    ("option", "value"),
    [("--size", "100000"), ("--size", "-5"), ("--size", "0"), ("--workers", "0"), ("--limit", "0"),
     ("--crop", "-1"), ("--pixels", "0"), ("--scale", "nan"), ("--size", "abc")],
)  # fmt: skip
def test_numeric_options_are_range_checked(tmp_path, folder, option, value):
    labels, images = folder
    out = tmp_path / "s.h5"
    one_line_error(invoke(*build_args(labels, images, out), option, value), option)
    assert not list(tmp_path.glob("s.h5*"))


def test_a_second_build_never_deletes_the_first_ones_partial(tmp_path, folder):
    labels, images = folder
    out = tmp_path / "s.h5"
    from galcat.catalogues import read_catalogue
    from galcat.store.build import _identity

    table = read_catalogue("folder", labels, images=images)
    running = PartialBuild(out)
    running.create(
        len(table),
        (16, 16, 3),
        _identity(table, BuildConfig(name="other", preprocess=PreprocessConfig(size=16))),
    )
    with running:  # the first build holds its lock while it works
        before = digest(running.path), digest(running.journal)
        line = one_line_error(invoke(*build_args(labels, images, out, "--overwrite")), "another build")
        assert str(running.path) in line
        assert (digest(running.path), digest(running.journal)) == before
    assert running.exists()


def test_crash_just_after_the_final_rename_is_cleaned_up(tmp_path, folder, monkeypatch):
    """The leftover .partial, journal and lock are recognised, the failures list is kept (or
    rewritten from the journal), and the rerun reports the store instead of 'store exists'."""
    labels, images = folder
    out = tmp_path / "s.h5"
    reference = _reference_fingerprint(tmp_path, labels, images)
    real_discard = PartialBuild.discard
    calls = {"n": 0}

    def crash_after_rename(self):
        calls["n"] += 1
        if self.out == out and out.exists():
            raise KeyboardInterrupt  # the process dies right after os.replace(tmp, out)
        real_discard(self)

    monkeypatch.setattr(PartialBuild, "discard", crash_after_rename)
    result = invoke(*build_args(labels, images, out))
    assert result.exit_code == 130
    monkeypatch.setattr(PartialBuild, "discard", real_discard)
    part = PartialBuild(out)
    assert out.exists() and part.exists() and part.journal.exists()
    part.lockfile.write_text("12345")  # the dead process's lock file
    (tmp_path / "s.failures.ecsv").unlink()  # as if the crash came before the list was written
    rerun = invoke(*build_args(labels, images, out))
    assert rerun.exit_code == 0, rerun.output
    assert "13 of 16 rows" in rerun.stdout
    assert not part.exists() and not part.journal.exists() and not part.lockfile.exists()
    assert len(Table.read(tmp_path / "s.failures.ecsv", format="ascii.ecsv")) == 3
    assert open_store(out).fingerprint == reference
    one_line_error(invoke(*build_args(labels, images, out)), "store exists")  # now it truly does


def test_disk_full_is_one_line_and_the_build_resumes(tmp_path, folder, small_disk):
    """A file system that cannot hold the store: one line, no segfault, no HDF5 tracebacks; after
    space is freed the same command finishes with the fingerprint of an undisturbed build."""
    labels, images = folder
    reference = _reference_fingerprint(tmp_path, labels, images)
    disk = small_disk(64)  # the 16 x 16 px partial (18 KB) fits, the finished store does not
    out = disk.path / "s.h5"
    done = disk.run(build_args(labels, images, out))
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "galcat: error:" in lines[0] and str(out) in lines[0], done.stderr
    assert "free" in lines[0] and "rerun" in lines[0]
    disk.grow(4096)
    again = disk.run(build_args(labels, images, out))
    assert again.returncode == 0, again.stderr
    assert open_store(out).fingerprint == reference
    assert not PartialBuild(out).exists()


def test_no_room_for_the_partial_is_one_line_and_leaves_nothing(tmp_path, folder, small_disk):
    labels, images = folder
    disk = small_disk(8)
    out = disk.path / "s.h5"
    done = disk.run(build_args(labels, images, out, "--size", "64"))  # 16 x 12 KB does not fit
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "space" in done.stderr or ("needs" in done.stderr and "free" in done.stderr)
    assert sorted(p.name for p in disk.path.iterdir()) == []


def test_read_only_out_is_one_line_naming_the_path(folder, readonly_dir):
    labels, images = folder
    out = readonly_dir / "sub" / "s.h5"
    one_line_error(invoke(*build_args(labels, images, out)), str(out), "read-only")


def test_a_failed_network_build_leaves_nothing_or_says_how_to_resume(tmp_path, folder):
    labels, images = folder
    table = Table({"objid": ["a", "b", "c"], "ra": [10.0, 10.1, 10.2], "dec": [1.0, 1.1, 1.2]})
    fast = HttpConfig(timeout=0.5, retries=1, backoff=0.001, max_backoff=0.01)
    source = SkyServerSource(base_url="http://127.0.0.1:9", cache=None, http=fast)  # nothing listens
    out = tmp_path / "net.h5"
    with pytest.raises(Exception, match="no unfinished build was kept") as info:
        build_store(table, source, out, BuildConfig(workers=1, preprocess=PreprocessConfig(size=16)))
    assert type(info.value).__name__ == "NetworkError"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("net")) == []

    class DiesAfterTwo:  # a source whose network goes away part way through the build
        name = "local"

        def __init__(self):
            self.inner, self.calls = LocalArchiveSource(images), 0

        def fetch(self, row_index, row):
            self.calls += 1
            if self.calls > 2:
                from galcat.errors import NetworkError

                raise NetworkError("cannot reach example.org after 6 attempts")
            return self.inner.fetch(row_index, row)

    from galcat.catalogues import read_catalogue

    cat = read_catalogue("folder", labels, images=images)
    cfg = BuildConfig(name="folder", workers=1, flush_every=1, preprocess=PreprocessConfig(crop=0, size=16))
    with pytest.raises(Exception, match="rerun the same command to resume") as info:
        build_store(cat, DiesAfterTwo(), out, cfg)
    assert "2 of 16 rows" in str(info.value) and str(PartialBuild(out).path) in str(info.value)
    assert not PartialBuild(out).lockfile.exists()
    summary = build_store(cat, LocalArchiveSource(images), out, cfg)  # resumes
    assert summary.resumed_rows == 2 and summary.n_stored == 13
    np.testing.assert_array_equal(open_store(out).read_images(slice(0, 1)).shape, (1, 16, 16, 3))


def test_a_checkpoint_save_on_a_full_disk_is_a_galcat_error(small_disk):
    """torch reports a full disk as RuntimeError; the save names the file and leaves no temp file."""
    disk = small_disk(64)
    code = (
        "import sys, torch\n"
        "from galcat.errors import GalcatError\n"
        "from galcat.model.checkpoint import save_checkpoint\n"
        "try:\n"
        "    save_checkpoint({'w': torch.zeros(200_000)}, sys.argv[1])\n"
        "except GalcatError as exc:\n"
        "    print('GalcatError:', exc)\n"
    )
    done = disk.python(code, disk.path / "best.pt")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("GalcatError:") and "best.pt" in done.stdout and "rerun" in done.stdout
    assert list(disk.path.iterdir()) == []
