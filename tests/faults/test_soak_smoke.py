"""bench.soak end to end, small and short: it runs, measures and prints its JSON line.

Correctness figures are asserted (nothing stored twice, nothing lost, memory measured); speed
figures (missed slots, cycle times) are not: the machine may be busy with other work.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import require_service

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

KEYS = ("slots", "missed_slots", "duplicate_readings", "lost_readings", "worker_rss_mb_start", "worker_rss_mb_end",
        "p99_cycle_s")


def test_soak_smoke(loopback_block):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("Redis", "127.0.0.1", 6379)
    result = subprocess.run([sys.executable, "-m", "bench.soak", "--devices", "3", "--points", "10", "--interval", "2",
                             "--minutes", "0.2", "--block", str(loopback_block)],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(key in figures for key in KEYS), figures
    assert figures["slots"] == 6
    assert figures["duplicate_readings"] == 0 and figures["lost_readings"] == 0, figures
    assert 0 <= figures["missed_slots"] < figures["slots"]
    assert figures["readings"] == 30 * (figures["slots"] - figures["missed_slots"])
    assert figures["worker_rss_mb_start"] > 0 and figures["worker_rss_mb_end"] > 0
    assert 0 < figures["p99_cycle_s"]
