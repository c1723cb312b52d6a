"""Compute threads: usable CPUs (affinity, cgroup quota), explicit settings, and the share of each
galcat job when several run on one machine (issue 21, item 18)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from helpers.cli import invoke, one_line_error

from galcat import threads
from galcat.errors import GalcatError


@pytest.fixture(autouse=True)
def _restore(monkeypatch, tmp_path):
    """Each test gets its own job folder and state; torch's thread count is put back afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "job_dir", lambda: tmp_path / "jobs")
    monkeypatch.setattr(threads, "_state", {**threads._state, "registered": None, "requested": None})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(threads.ENV, raising=False)
    yield
    torch.set_num_threads(before)


def _cgroup(tmp_path, lines: str, files: dict[str, str]):
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "cgroup"
    proc.write_text(lines)
    root = tmp_path / "fs"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root, proc


def test_cgroup_v2_quota_is_the_tightest_on_the_path(tmp_path):
    root, proc = _cgroup(
        tmp_path, "0::/slurm/job1/step0\n",
        {"slurm/cpu.max": "150000 100000\n", "slurm/job1/step0/cpu.max": "max 100000\n"},
    )  # fmt: skip
    assert threads.cgroup_quota(root, proc) == pytest.approx(1.5)
    root, proc = _cgroup(tmp_path / "b", "0::/\n", {"cpu.max": "max 100000\n"})
    assert threads.cgroup_quota(root, proc) is None


def test_cgroup_v1_quota(tmp_path):
    group = "cpu,cpuacct/docker/abc"
    files = {f"{group}/cpu.cfs_quota_us": "50000\n", f"{group}/cpu.cfs_period_us": "100000\n"}
    root, proc = _cgroup(tmp_path, "4:cpu,cpuacct:/docker/abc\n", files)
    assert threads.cgroup_quota(root, proc) == pytest.approx(0.5)


def test_usable_cpus_take_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    monkeypatch.setattr(threads, "cgroup_quota", lambda: 2.5)
    assert threads.usable_cpus() == 3
    monkeypatch.setattr(threads, "cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert threads.usable_cpus() == 1


def test_explicit_settings_win_in_order(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.configure() == 3 and torch.get_num_threads() == 3
    monkeypatch.setenv(threads.ENV, "2")
    assert threads.configure() == 2
    threads.request("1")
    assert threads.configure() == 1 and torch.get_num_threads() == 1
    with pytest.raises(GalcatError, match="GALCAT_THREADS 'many'"):
        threads.parse_threads("many")
    for bad in ("0", "-2", "1.5"):
        with pytest.raises(GalcatError):
            threads.parse_threads(bad)


def test_bad_threads_option_is_one_line(tmp_path):
    one_line_error(invoke("--threads", "lots", "synth", "store", "--out", tmp_path / "s.h5"), "--threads")
    assert not (tmp_path / "s.h5").exists()


def test_auto_shares_the_cpus_between_running_jobs(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads.configure() == 4  # alone: every usable CPU
    assert (threads.job_dir() / str(os.getpid())).is_file()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = threads._start_time(other.pid)
        (threads.job_dir() / str(other.pid)).write_text(started + "\n")
        (threads.job_dir() / "999999999").write_text("1\n")  # a job that ended long ago
        monkeypatch.setattr(threads, "RECHECK_S", 0.0)
        threads.rebalance()
        assert torch.get_num_threads() == 2  # two jobs: half each
        assert not (threads.job_dir() / "999999999").exists()  # the stale entry is gone
    finally:
        other.kill()
        other.wait()
    threads.rebalance()
    assert torch.get_num_threads() == 4  # the other job ended: all CPUs again


def test_auto_leaves_the_cpus_other_programs_keep_busy(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.5, 9.0, 8.0))  # a machine busy with other work
    assert threads.configure() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (2.1, 2.0, 2.0))  # this job's own 2 threads, nothing else
    threads._apply(2)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    threads.rebalance()
    assert torch.get_num_threads() == 2  # its own load is not held against it
    monkeypatch.setattr(os, "getloadavg", lambda: (2.7, 2.0, 2.0))  # its loader threads, or the average's lag
    threads.rebalance()
    assert torch.get_num_threads() == 2  # less than a whole CPU of other load keeps both threads
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a 2-CPU container on a big machine: load 10 of 64
    monkeypatch.setattr(os, "getloadavg", lambda: (10.0, 10.0, 10.0))
    assert threads.auto_threads() == 2


def test_an_explicit_count_is_never_rebalanced(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    threads.configure(3)
    monkeypatch.setattr(threads, "running_jobs", lambda: 4)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    threads.rebalance()
    assert torch.get_num_threads() == 3
