"""Smoke test of the collection benchmark: it runs end to end and reports its numbers. No speed
assertions: tests never judge wall-clock speed (see docs/performance.md for the numbers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"naive_pts_s", "raw_pts_s", "pipeline_pts_s", "vs_naive", "vs_raw"}


def test_benchmark_runs_and_ends_with_its_json_line(loopback_block):
    completed = subprocess.run(
        [sys.executable, "-m", "bench.collect", "--devices", "2", "--points", "20", "--rounds", "1",
         "--naive-seconds", "2", "--block", str(loopback_block)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) == KEYS
    assert all(isinstance(result[key], (int, float)) and result[key] > 0 for key in KEYS)
    table = "\n".join(lines[:-1])
    for method in ("naive", "raw", "pipeline"):
        assert f"\n{method} " in table
    assert '"readings": 40' in table  # the pipeline's last round stored every point
