"""Soak: the production processes collecting from simulated devices on a schedule, for minutes.

    python -m bench.soak --devices 50 --points 100 --interval 5 --minutes 10

Runs ``bacnet-pipeline simulate`` (devices on 127.0.<block>.10 and up, port 47808), ``worker``
(BACnet on 127.0.<block>.1/8:47809) and ``scheduler`` as subprocesses against a throwaway
database on the PostgreSQL server and a namespace of its own on the Redis server (both removed
at the end), discovers the devices, adds one collect schedule every ``--interval`` seconds and
lets it run for ``--minutes``. Then it measures from the ledger and the readings (definitions in
bench/soak_metrics.py and docs/reliability.md) and prints, as its last line, one JSON object:
``slots``, ``missed_slots``, ``duplicate_readings``, ``lost_readings``, ``worker_rss_mb_start``,
``worker_rss_mb_end``, ``p99_cycle_s`` (and a few more figures).

Bounded: devices <= 200, points <= 1000, minutes <= 120; every wait has a deadline; loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.soak_metrics import Window, first_run_slot, measure, scheduled_runs, window_for

COMMAND = str(Path(sys.executable).with_name("bacnet-pipeline"))
#: Host part of the first simulated device (.1 is the worker's).
FIRST_DEVICE = 10
#: The worker's BACnet port (not the devices' 47808: bacpypes3 treats 127.x on its own port as itself).
COLLECTOR_PORT = 47809
#: Blocks chosen at random when none is given: away from the tests' 100..249 and the demo's 0.
RANDOM_BLOCKS = range(20, 100)
#: Succeeded collections before the worker's memory is first measured (connection pools, the
#: engine's caches and learned batch sizes are built by then).
WARMUP_RUNS = 3
#: Seconds a process gets to start.
START_DEADLINE = 90.0
#: Devices whose point lists one setup job reads.
REFRESH_GROUP = 10
#: Rounds of point-list reading for devices still without their points.
REFRESH_ATTEMPTS = 3
#: Seconds one setup job may take.
SETUP_JOB_DEADLINE = 300.0
#: Seconds between two looks at the ledger while the soak runs.
POLL_SECONDS = 1.0
#: Job statuses that never change again.
FINAL = ("succeeded", "partial", "failed", "skipped", "lost")
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50, help="simulated devices (1-200)")
    parser.add_argument("--points", type=int, default=100, help="points per device (1-1000)")
    parser.add_argument("--interval", type=int, default=5, help="collect schedule interval in seconds (1-3600)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the measured window (0.1-120)")
    parser.add_argument("--threads", type=int, default=None, help="worker threads (default: WORKER_THREADS, 4)")
    parser.add_argument("--block", type=int, default=None, help="use 127.0.<block>.x (default: random 20-99)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL server to create the throwaway database on")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis server (a private namespace is used)")
    parser.add_argument("--keep", action="store_true", help="keep the database, Redis keys and process logs")
    args = parser.parse_args(argv)
    checks = [(1 <= args.devices <= 200, "--devices must be 1..200"),
              (1 <= args.points <= 1000, "--points must be 1..1000"),
              (1 <= args.interval <= 3600, "--interval must be 1..3600"),
              (0.1 <= args.minutes <= 120, "--minutes must be 0.1..120"),
              (args.threads is None or 1 <= args.threads <= 64, "--threads must be 1..64"),
              (args.block is None or 1 <= args.block <= 254, "--block must be 1..254")]
    for ok, message in checks:
        if not ok:
            parser.error(message)
    return args


class Processes:
    """The soak's subprocesses, each logging to a file in the work folder."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.popen: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def start(self, name: str, args: list[str], ready: str) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "w") as handle:
            process = subprocess.Popen([COMMAND, *args], env=self.env, stdout=handle, stderr=subprocess.STDOUT)
        self.popen[name] = process
        deadline = time.monotonic() + START_DEADLINE
        while ready not in self.log(name):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"soak: {name} did not start:\n{self.log(name)[-3000:]}")
            time.sleep(0.1)
        return process

    def check_alive(self) -> None:
        for name, process in self.popen.items():
            if process.poll() is not None:
                raise SystemExit(f"soak: {name} exited ({process.returncode}):\n{self.log(name)[-3000:]}")

    def stop(self, name: str) -> None:
        process = self.popen.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def stop_all(self) -> None:
        for name in reversed(list(self.popen)):
            self.stop(name)


def rss_mb(pid: int) -> float:
    import psutil

    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _run_job(app, actor: str, kwargs: dict) -> tuple[str, dict, str]:
    """Enqueue one setup job and wait for it: (status, summary, error)."""
    from app.extensions import db
    from app.models import JobRun
    from app.transport import enqueue

    with app.app_context():
        job_id = enqueue(actor, kwargs, triggered_by="cli").id
    deadline = time.monotonic() + SETUP_JOB_DEADLINE
    while True:
        with app.app_context():
            run = db.session.get(JobRun, job_id)
            status, summary, error = run.status, run.summary or {}, run.error
        if status in ("succeeded", "partial", "failed", "lost") or time.monotonic() > deadline:
            return status, summary, error
        time.sleep(0.5)


def _setup(app, args: argparse.Namespace, block: int) -> int:
    """The site, its devices discovered and their point lists read; returns the site's id.

    The point lists (names, units, ... of every object) are read REFRESH_GROUP devices at a time
    and a device whose reading timed out is tried again: all at once they ask one simulator
    process, on a machine shared with other work, for more than it answers within the request
    timeout. The collection itself is not split: it is what the soak measures.
    """
    from app.extensions import db
    from app.models import Device, Point, Site

    addresses = [f"127.0.{block}.{FIRST_DEVICE + n}" for n in range(args.devices)]
    with app.app_context():
        site = Site(name="Soak", poll_new_points=True, discovery_targets="\n".join(addresses))
        db.session.add(site)
        db.session.commit()
        site_id = site.id
    status, summary, error = _run_job(app, "discover_devices", {"site_id": site_id})
    if status != "succeeded" or summary.get("found") != args.devices:
        raise SystemExit(f"soak: discovery ended {status}: {error or summary}")
    for _attempt in range(REFRESH_ATTEMPTS):
        with app.app_context():
            counts = dict(db.session.execute(
                db.select(Device.id, db.func.count(Point.id)).outerjoin(Point, Point.device_id == Device.id)
                .where(Device.site_id == site_id).group_by(Device.id)).all())
        missing = sorted(device_id for device_id, count in counts.items() if count != args.points)
        if not missing:
            return site_id
        for start in range(0, len(missing), REFRESH_GROUP):
            _run_job(app, "refresh_points", {"site_id": site_id, "device_ids": missing[start:start + REFRESH_GROUP]})
    raise SystemExit(f"soak: the point lists of {len(missing)} device(s) could not be read")


def _soak(app, processes: Processes, args: argparse.Namespace, site_id: int) -> tuple[Window, int, dict]:
    """Run the schedule for the window; returns (window, schedule id, memory figures)."""
    from app.extensions import db
    from app.models import Schedule

    with app.app_context():
        schedule = Schedule(name="soak", kind="collect", site_id=site_id, interval_seconds=args.interval)
        db.session.add(schedule)
        db.session.commit()
        schedule_id = schedule.id
    worker_pid = processes.popen["worker"].pid
    deadline = time.monotonic() + 3 * args.interval + 30
    first = None
    while first is None:
        processes.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit("soak: the scheduler ran no collection")
        time.sleep(0.2)
        with app.app_context():
            first = first_run_slot(db.session.connection(), schedule_id)
    window = window_for(first, args.interval, args.minutes)
    # CPU used by the worker and the simulator over the window, in cores: on a small machine
    # they compete for the same cores, which bounds the cycle time.
    pids = {name: processes.popen[name].pid for name in ("worker", "simulate")}
    cpu_start = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall_start = time.monotonic()
    end_by = time.monotonic() + (window.last_slot - first).total_seconds() + 3 * args.interval + 120
    memory = {"worker_rss_mb_start": None, "worker_rss_mb_max": 0.0}
    last_report = time.monotonic()
    while True:
        processes.check_alive()
        with app.app_context():
            runs = [run for run in scheduled_runs(db.session.connection(), schedule_id) if run["slot"] in window]
            db.session.rollback()
        succeeded = sum(run["status"] == "succeeded" and not run["missed_record"] for run in runs)
        current = rss_mb(worker_pid)
        memory["worker_rss_mb_max"] = max(memory["worker_rss_mb_max"], current)
        if memory["worker_rss_mb_start"] is None and succeeded >= min(WARMUP_RUNS, window.slots):
            memory["worker_rss_mb_start"] = current
        memory["load_1m_max"] = max(memory.get("load_1m_max", 0.0), os.getloadavg()[0])
        last = [run for run in runs if run["slot"] == window.last_slot and not run["missed_record"]]
        if last and all(run["status"] in FINAL for run in runs):
            memory["worker_rss_mb_end"] = current
            wall = time.monotonic() - wall_start
            for name, pid in pids.items():
                memory[f"{name}_cores"] = round((cpu_seconds(pid) - cpu_start[name]) / wall, 2)
            return window, schedule_id, memory
        if time.monotonic() > end_by:
            raise SystemExit(f"soak: the last slot {window.last_slot:%H:%M:%S} never finished")
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            print(f"soak: {succeeded}/{window.slots} collections done, worker {current} MB", file=sys.stderr)
        time.sleep(POLL_SECONDS)


def _cleanup(args: argparse.Namespace, database: str, namespace: str, workdir: Path) -> None:
    import redis
    from sqlalchemy import create_engine, text

    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()
    client = redis.Redis.from_url(args.redis_url)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from sqlalchemy import create_engine, text

    from app import create_app
    from app.settings import load_settings
    from bacnet.runtime import check_port_free

    block = args.block if args.block is not None else random.choice(RANDOM_BLOCKS)
    check_port_free(f"127.0.{block}.1", COLLECTOR_PORT)
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    database = f"bp_soak_{uuid.uuid4().hex[:8]}"
    namespace = f"bp-soak-{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    database_url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{database}"
    settings = {"DATABASE_URL": database_url, "BROKER_URL": args.redis_url, "BROKER_NAMESPACE": namespace,
                "BACNET_TRANSPORT": "redis", "INSTANCE_DIR": str(workdir / "instance"),
                "SECRET_KEY": uuid.uuid4().hex}
    env = {**{key: value for key, value in os.environ.items() if not key.startswith(("BACNET_", "BROKER_"))},
           **settings, "BACNET_ADDRESS": f"127.0.{block}.1/8:{COLLECTOR_PORT}", "LOG_LEVEL": "INFO",
           "PYTHONUNBUFFERED": "1"}
    if args.threads:
        env["WORKER_THREADS"] = str(args.threads)
    processes = Processes(workdir, env)
    try:
        subprocess.run([COMMAND, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
        processes.start("simulate", ["simulate", "--devices", str(args.devices), "--points", str(args.points),
                                     "--base-address", f"127.0.{block}.{FIRST_DEVICE}", "--first-instance", "700001"],
                        f"simulating {args.devices} devices")
        processes.start("worker", ["worker"], "worker started")
        app = create_app(settings=load_settings(**settings))
        site_id = _setup(app, args, block)
        processes.start("scheduler", ["scheduler"], "started (leader)")
        window, schedule_id, memory = _soak(app, processes, args, site_id)
        processes.stop("scheduler")
        with app.app_context():
            from app.extensions import db

            figures = measure(db.session.connection(), schedule_id=schedule_id, site_id=site_id, window=window,
                              expected_points=args.devices * args.points)
            db.session.rollback()
            db.engine.dispose()
        processes.stop_all()
    finally:
        processes.stop_all()
        if args.keep:
            print(f"soak: kept database {database}, Redis namespace {namespace}, logs in {workdir}", file=sys.stderr)
        else:
            _cleanup(args, database, namespace, workdir)
    result = {key: figures[key] for key in ("slots", "missed_slots", "duplicate_readings", "lost_readings")}
    result.update({"worker_rss_mb_start": memory["worker_rss_mb_start"],
                   "worker_rss_mb_end": memory["worker_rss_mb_end"], "p99_cycle_s": figures["p99_cycle_s"]})
    result.update({"p50_cycle_s": figures["p50_cycle_s"], "max_cycle_s": figures["max_cycle_s"],
                   "p99_start_lag_s": figures["p99_start_lag_s"], "worker_rss_mb_max": memory["worker_rss_mb_max"],
                   "readings": figures["readings"], "devices": args.devices, "points": args.points,
                   "interval_s": args.interval, "minutes": args.minutes,
                   # How busy the machine was: every process here shares its cores with the rest.
                   "cpus": os.cpu_count(), "load_1m_max": round(memory.get("load_1m_max", 0.0), 2),
                   "worker_cores": memory["worker_cores"], "simulator_cores": memory["simulate_cores"]})
    print(f"{args.devices} devices x {args.points} points every {args.interval} s for {args.minutes:g} min "
          f"(slots {window.first_slot:%H:%M:%S}..{window.last_slot:%H:%M:%S} UTC)")
    if figures["not_succeeded"]:
        print(f"statuses other than succeeded in the window: {', '.join(figures['not_succeeded'])}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
