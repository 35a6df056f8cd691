"""Two scheduler processes against the real PostgreSQL: one leads, exactly one job per slot, and
the standby takes over after the leader is killed with SIGKILL."""

from __future__ import annotations

import re
import signal
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REDIS_URL, require_service
from tests.helpers import wait_until
from tests.processes import Process, base_env, run

pytestmark = pytest.mark.e2e

INTERVAL = 2


def _slots(url: str) -> list[tuple[datetime, str, str]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT message_id, status, error FROM job_run WHERE schedule_id = 1 "
                                       "ORDER BY message_id")).all()
    engine.dispose()
    out = []
    for message_id, status, error in rows:
        stamp = re.match(r"sched-1-(\d{8}T\d{6}Z)", message_id).group(1)
        slot = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        out.append((slot, status if not message_id.endswith("-missed") else "missed-record", error))
    return out


def _leader(url: str) -> int | None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as connection:
        row = connection.execute(text("SELECT pid FROM process_heartbeat WHERE kind = 'scheduler' AND role = 'leader' "
                                      "ORDER BY heartbeat_at DESC LIMIT 1")).first()
    engine.dispose()
    return row[0] if row else None


def test_two_schedulers_one_job_per_slot_and_takeover_after_kill(tmp_path, fresh_pg_database, redis_namespace,
                                                                 loopback_block):
    require_service("Redis", "127.0.0.1", 6379)
    url = fresh_pg_database
    env = base_env(tmp_path, DATABASE_URL=url, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace,
                   BACNET_ADDRESS=f"127.0.{loopback_block}.1/8:47809")
    assert run(["db", "upgrade"], env).returncode == 0
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        # A site without devices: each collection finishes at once, so slots never pile up.
        connection.execute(text("INSERT INTO site (name, description, transport, queue_name, gateway_url, "
                                "discovery_targets, writes_allowed, poll_new_points, write_priority_min, "
                                "write_priority_max, created_at) VALUES ('Empty', '', '', '', '', '', false, "
                                "false, 8, 16, now())"))
        connection.execute(text("INSERT INTO schedule (name, kind, site_id, interval_seconds, cron, jitter_seconds, "
                                f"enabled) VALUES ('every {INTERVAL} s', 'collect', 1, {INTERVAL}, '', 0, true)"))
    engine.dispose()
    worker = Process("worker", ["worker"], env, tmp_path)
    schedulers = {name: Process(name, ["scheduler"], env, tmp_path) for name in ("scheduler-a", "scheduler-b")}
    try:
        worker.wait_for("worker started")
        for process in schedulers.values():
            process.wait_for("scheduler .* started")
        wait_until(lambda: len([s for s in _slots(url) if s[1] == "succeeded"]) >= 10, timeout=60)
        leader_pid = _leader(url)
        leader = next(p for p in schedulers.values() if p.popen.pid == leader_pid)
        standby = next(p for p in schedulers.values() if p is not leader)
        before_kill = len(_slots(url))
        leader.popen.send_signal(signal.SIGKILL)
        leader.popen.wait(10)
        standby.wait_for("is now the leader", timeout=15)
        wait_until(lambda: len([s for s in _slots(url) if s[1] == "succeeded"]) >= before_kill + 5, timeout=60)
    finally:
        for process in schedulers.values():
            process.stop()
        worker.stop()

    slots = _slots(url)
    ran = [slot for slot, status, _ in slots if status not in ("missed-record",)]
    assert len(ran) == len(set(ran)), "two jobs for one slot"
    assert all(status in ("succeeded", "missed-record", "skipped") for _, status, _ in slots), slots
    # Consecutive slots from the first to the last: at most one is absent (the takeover gap).
    first, last = min(ran), max(ran)
    expected = int((last - first).total_seconds()) // INTERVAL + 1
    assert expected - len(ran) <= 1, [s[0].strftime("%H:%M:%S") for s in slots]
    assert all((b - a) >= timedelta(seconds=INTERVAL) for a, b in zip(ran, ran[1:]))
    for process in schedulers.values():
        assert "Traceback" not in process.output, process.output[-3000:]
