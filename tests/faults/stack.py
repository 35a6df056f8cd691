"""The product's processes as one test's deployment: database, broker, simulated devices, worker,
scheduler, web; plus the few queries the fault tests make of the ledger and the readings."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.helpers import wait_until
from tests.processes import Process, base_env, run

#: Environment of every process of a fault test: short BACnet timeouts, and a dead worker's
#: messages delivered again after 2 s (every broker command runs the maintenance that does it).
FAST_FAILURE_ENV = {"BACNET_REQUEST_TIMEOUT": "1", "BROKER_HEARTBEAT_TIMEOUT_MS": "2000",
                    "BROKER_MAINTENANCE_CHANCE": "1000000", "SECRET_KEY": "faults-secret-key-faults-secret-key"}


def sql(url: str, query: str, **params) -> list | None:
    """One statement in its own connection (NullPool: nothing pooled survives a server restart)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(query), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


class Stack:
    """Processes started for one test, all stopped (and checked for tracebacks) at the end."""

    def __init__(self, tmp_path: Path, *, database_url: str, block: int, **env: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.block = block
        self.env = base_env(tmp_path, DATABASE_URL=database_url, BACNET_ADDRESS=f"127.0.{block}.1/8:47809",
                            **{**FAST_FAILURE_ENV, **env})
        self.processes: dict[str, Process] = {}
        self._starts: dict[str, int] = {}

    def upgrade(self) -> None:
        result = run(["db", "upgrade"], self.env)
        assert result.returncode == 0, result.stderr[-2000:]

    def start(self, name: str, args: list[str], ready: str, *, timeout: float = 60, **env: str) -> Process:
        """Start ``bacnet-pipeline <args>`` and wait for ``ready`` in its output. A name started
        again (after a kill) gets a log file of its own."""
        count = self._starts.get(name, 0)
        self._starts[name] = count + 1
        label = name if count == 0 else f"{name}-{count + 1}"
        process = Process(label, args, {**self.env, **env}, self.tmp_path)
        self.processes[label] = process
        process.wait_for(ready, timeout=timeout)
        return process

    def simulate(self, name: str, *, devices: int, points: int, first: int, first_instance: int,
                 extra: tuple[str, ...] = ()) -> Process:
        """Simulated devices on 127.0.<block>.<first> and up (port 47808)."""
        return self.start(name, ["simulate", "--devices", str(devices), "--points", str(points), "--base-address",
                                 f"127.0.{self.block}.{first}", "--first-instance", str(first_instance), *extra],
                          f"simulating {devices} devices")

    def address(self, host: int) -> str:
        return f"127.0.{self.block}.{host}"

    def sql(self, query: str, **params) -> list | None:
        return sql(self.database_url, query, **params)

    def scalar(self, query: str, **params):
        return self.sql(query, **params)[0][0]

    def add_site(self, name: str, targets: list[str], **columns: str) -> int:
        values = {"transport": "", "gateway_url": "", **columns}
        self.sql("INSERT INTO site (name, description, transport, queue_name, gateway_url, discovery_targets, "
                 "writes_allowed, poll_new_points, write_priority_min, write_priority_max, created_at) VALUES "
                 "(:name, '', :transport, '', :gateway_url, :targets, false, true, 8, 16, now())",
                 name=name, targets="\n".join(targets), **values)
        return self.scalar("SELECT id FROM site WHERE name = :name", name=name)

    def add_schedule(self, site_id: int, interval: int) -> int:
        self.sql("INSERT INTO schedule (name, kind, site_id, interval_seconds, cron, jitter_seconds, enabled) "
                 "VALUES (:name, 'collect', :site, :interval, '', 0, true)",
                 name=f"every {interval} s (site {site_id})", site=site_id, interval=interval)
        return self.scalar("SELECT max(id) FROM schedule")

    def job(self, job_id: int) -> dict:
        row = self.sql("SELECT id, message_id, status, attempts, error, summary, started_at, finished_at, "
                       "enqueued_at FROM job_run WHERE id = :id", id=job_id)[0]
        return dict(row._mapping)

    def wait_job(self, job_id: int, timeout: float = 60) -> dict:
        """The job's row once it is final (succeeded, failed, skipped, lost)."""
        wait_until(lambda: self.job(job_id)["status"] in ("succeeded", "failed", "skipped", "lost"),
                   timeout=timeout, interval=0.1)
        return self.job(job_id)

    def readings_per_point(self, site_id: int) -> dict[int, int]:
        rows = self.sql("SELECT p.id, count(r.ts) FROM point p JOIN device d ON d.id = p.device_id "
                        "LEFT JOIN reading r ON r.point_id = p.id WHERE d.site_id = :site AND p.polling_enabled "
                        "GROUP BY p.id", site=site_id)
        return {point_id: count for point_id, count in rows}

    def kill(self, label: str) -> None:
        process = self.processes[label]
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(10)

    def stop_all(self) -> dict[str, int]:
        """SIGTERM everything still running (reverse start order); the exit codes by label."""
        codes = {}
        for label, process in reversed(list(self.processes.items())):
            codes[label] = process.stop(signal.SIGTERM)
        return codes

    def tracebacks(self, *labels: str) -> list[str]:
        """Labels of the given processes (default: all) whose output holds a Python traceback."""
        return [label for label in labels or self.processes if "Traceback" in self.processes[label].output]


def wait_alive(process: Process, seconds: float) -> None:
    """Assert that ``process`` keeps running for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, f"{process.name} exited:\n{process.output[-3000:]}"
        time.sleep(0.1)
