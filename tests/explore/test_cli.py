"""``galcat explore`` as typed: the site's size is printed, and ``--serve`` answers on localhost."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from helpers.cli import invoke
from helpers.explore_data import synthetic_explore_inputs

REPO = Path(__file__).resolve().parents[2]


def test_explore_prints_the_site_and_its_size(tmp_path):
    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=2)
    result = invoke("explore", catalogue, "--store", store, "--reference", store, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    size = sum(p.stat().st_size for p in (tmp_path / "site").rglob("*") if p.is_file())
    match = re.search(r"wrote (\S+index\.html) \(18 galaxies, 18 images; ([\d.]+) kB on disk", result.stdout)
    assert match and Path(match.group(1)).is_file(), result.stdout
    assert abs(float(match.group(2)) - size / 1000) < 0.1


def test_explore_serve_from_the_command_line(tmp_path):
    catalogue, store = synthetic_explore_inputs(tmp_path, n_per_class=2)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "galcat", "explore", str(catalogue), "--store", str(store), "--serve",
               "--port", "0"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path, start_new_session=True)  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving "):
                break
        match = re.match(r"serving (http://localhost:\d+/)", lines[-1] if lines else "")
        assert match, (lines, proc.stderr.read() if proc.poll() is not None else "")
        url = match.group(1)
        with urllib.request.urlopen(url + "api/similar?q=SYN000003&k=2", timeout=30) as response:
            answer = json.loads(response.read())
        assert [n["objid"] for n in answer["neighbours"]] and answer["query"].startswith("id 'SYN000003'")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"assets/explore.js" in response.read()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
