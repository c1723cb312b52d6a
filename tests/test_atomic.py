"""galcat.atomic: the one temp-file-and-rename writer (text, bytes, and a path for other writers)."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from galcat.atomic import atomic_path, atomic_write, litter
from galcat.config import json_default


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o022
    os.umask(old)


def test_text_and_bytes_replace_the_old_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write(path, "first\n")
    atomic_write(path, "zweite Zeile é\n")
    assert path.read_text(encoding="utf-8") == "zweite Zeile é\n"
    atomic_write(path, b"\x00\xff")
    assert path.read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_mode_the_umask_allows(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "t.txt", "x")
        with atomic_path(tmp_path / "p.bin") as tmp:
            tmp.write_bytes(b"y")
    finally:
        os.umask(old)
    assert mode(tmp_path / "t.txt") == 0o666 & ~umask
    assert mode(tmp_path / "p.bin") == 0o666 & ~umask


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temporary(tmp_path, umask_022):
    path = tmp_path / "model.npy"
    np.save(path, np.arange(3))
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(path) as tmp:
        np.save(tmp, np.arange(10))  # a writer that appends .npy would write elsewhere: the suffix is kept
        assert tmp.suffix == ".npy" and tmp.exists() and tmp.parent == path.parent
        raise RuntimeError("disk full")
    assert list(np.load(path)) == [0, 1, 2]
    assert litter(path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model.npy"]


def test_a_writer_that_writes_nothing_is_an_error_not_an_empty_file(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(FileNotFoundError, match="did not create"), atomic_path(path):
        pass
    assert not path.exists()


def test_litter_finds_only_the_temporaries_of_that_file(tmp_path):
    path = tmp_path / "store.h5"
    left = tmp_path / ".tmp-0123456789ab-store.h5"  # what a SIGKILL during a write leaves
    left.write_bytes(b"half")
    (tmp_path / ".tmp-0123456789ab-other.h5").write_bytes(b"half")
    assert litter(path) == [left]
    atomic_write(path, b"whole")
    assert litter(path) == [left] and path.read_bytes() == b"whole"


def test_json_default_writes_numpy_values_as_numbers_and_lists():
    data = {"n": np.int64(3), "x": np.float32(0.5), "v": np.arange(2), "other": object}
    back = json.loads(json.dumps(data, default=json_default))
    assert back["n"] == 3 and back["x"] == 0.5 and back["v"] == [0, 1] and "object" in back["other"]
