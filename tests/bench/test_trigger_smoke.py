"""bench.trigger runs end to end and prints its JSON summary (no speed assertion: machines vary)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import require_service


@pytest.mark.e2e
def test_trigger_benchmark_smoke():
    require_service("Redis", "127.0.0.1", 6379)
    result = subprocess.run([sys.executable, "-m", "bench.trigger", "--count", "3", "--idle-ms", "50"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for kind in ("local", "redis", "http"):
        assert summary[f"{kind}_p50_ms"] > 0 and summary[f"{kind}_p99_ms"] >= summary[f"{kind}_p50_ms"]
    assert summary["redis_vs_default_p50"] > 0
