"""Compute threads sized to the CPUs this process may really use, shared between galcat jobs.

torch starts one compute thread per core it sees, which is wrong in three common places: a CPU
affinity mask (``taskset``, Slurm's cgroup cpusets), a cgroup CPU quota (``cpu.max``: Kubernetes
limits, Slurm ``--cpus-per-task``) smaller than the visible cores, and several jobs on one machine,
each taking every core. Oversubscribed OpenMP threads wait on each other at every barrier, so two
such jobs run many times slower than twice one (benchmarks/shared_cpu.py measures it).

The default (``auto``) takes the usable CPUs (affinity, then quota), divides them between the
galcat jobs running on the machine, which announce themselves as files in a per-user folder
(:func:`job_dir`), and leaves the CPUs that other programs keep busy (the load average); a running
training looks again every few seconds (:func:`rebalance`), so a job that starts or ends, or a
load that comes or goes, changes the share. An explicit count (``--threads N``, ``GALCAT_THREADS``,
or ``OMP_NUM_THREADS``) is used as given and never changed.
"""

from __future__ import annotations

import atexit
import math
import os
import tempfile
import time
from pathlib import Path

from galcat.errors import GalcatError

ENV = "GALCAT_THREADS"
RECHECK_S = 3.0  # how often a running job recounts the others (a directory listing)

_state = {"auto": False, "threads": None, "checked": 0.0, "registered": None, "requested": None}


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def cgroup_quota(root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota (in CPUs) of this process's cgroup and its parents, or None when unlimited.

    cgroup v2: ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") along the path; v1: ``cpu.cfs_quota_us``
    / ``cpu.cfs_period_us`` of the cpu controller's group.
    """
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2 unified hierarchy: the tightest limit on the way up
            group = root / path.lstrip("/")
            while True:
                limits.append(_v2_limit(group / "cpu.max"))
                if group == root or root not in group.parents:
                    break
                group = group.parent
        elif "cpu" in controllers.split(","):
            base = root / controllers
            base = base if base.exists() else root / "cpu"
            limits.append(_v1_limit(base / path.lstrip("/")))
    limits = [x for x in limits if x is not None]
    return min(limits) if limits else None


def _v2_limit(path: Path) -> float | None:
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_limit(group: Path) -> float | None:
    try:
        quota = int((group / "cpu.cfs_quota_us").read_text())
        period = int((group / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def job_dir() -> Path:
    """The per-user folder where running galcat jobs announce themselves (one file per process)."""
    return Path(tempfile.gettempdir()) / f"galcat-jobs-{os.getuid()}"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (guards against a reused pid), None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def running_jobs() -> int:
    """How many galcat jobs run now (this one included when it is registered); stale files go."""
    count = 0
    try:
        entries = list(job_dir().iterdir())
    except OSError:
        return 1
    for entry in entries:
        try:
            pid, started = int(entry.name), entry.read_text().strip()
        except (OSError, ValueError):
            continue
        if _start_time(pid) == started:
            count += 1
        else:
            entry.unlink(missing_ok=True)
    return max(1, count)


def _register() -> None:
    if _state["registered"] is not None:
        return
    started = _start_time(os.getpid())
    if started is None:  # no /proc: this job cannot announce itself
        return
    try:
        folder = job_dir()
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / str(os.getpid())
        path.write_text(started + "\n")
    except OSError:
        return
    _state["registered"] = path
    atexit.register(path.unlink, missing_ok=True)


def parse_threads(value) -> int | None:
    """'auto' / None / '' -> None; a whole number >= 1 -> that number; anything else is an error."""
    if value is None or str(value).strip().lower() in ("", "auto"):
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise GalcatError(f"--threads / {ENV} {value!r}: use 'auto' or a whole number of threads >= 1")
    return int(text)


def request(threads) -> None:
    """Record the CLI's ``--threads`` (checked now); :func:`configure` applies it when torch starts."""
    _state["requested"] = parse_threads(threads)


def configure(threads=None) -> int:
    """Set torch's compute threads: ``threads`` if given, else the CLI's ``--threads``, else
    ``$GALCAT_THREADS``, else ``$OMP_NUM_THREADS``, else this job's share of the usable CPUs (kept
    up to date by :func:`rebalance`). Returns the count set."""
    explicit = parse_threads(threads)
    if explicit is None:
        explicit = _state["requested"]
    if explicit is None:
        explicit = parse_threads(os.environ.get(ENV))
    if explicit is None and os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        explicit = max(1, int(os.environ["OMP_NUM_THREADS"]))
    _state["auto"] = explicit is None
    if explicit is not None:
        return _apply(explicit)
    _register()
    return _apply(auto_threads())


def auto_threads(computing: bool = False) -> int:
    """The usable CPUs divided between the galcat jobs running now, and no more than the usable
    CPUs other programs leave idle (at least one thread).

    Other programs' demand is the 1-minute load average less this job's own threads while it
    computes (``computing``), spread over the machine's CPUs: the load average is machine-wide.
    """
    usable = usable_cpus()
    share = usable // running_jobs()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return max(1, share)
    others = max(0.0, load - ((_state["threads"] or 0) if computing else 0))
    # whole CPUs only: a job's own loader threads and the load average's lag add a fraction of a
    # CPU, which must not make it give up a thread and then take it back a few seconds later
    busy = math.floor(usable * min(1.0, others / max(1, os.cpu_count() or 1)))
    return max(1, min(share, usable - busy))


def rebalance() -> None:
    """In an ``auto`` job, recount the running jobs every few seconds and resize the thread pool."""
    if not _state["auto"]:
        return
    now = time.monotonic()
    if now - _state["checked"] < RECHECK_S:
        return
    _state["checked"] = now
    wanted = auto_threads(computing=True)
    if wanted != _state["threads"]:
        _apply(wanted)


def _apply(n: int) -> int:
    import torch

    torch.set_num_threads(n)
    _state["threads"] = n
    _state["checked"] = time.monotonic()
    return n
