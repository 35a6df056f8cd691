"""How fast does a "Collect now" click start work? Enqueue -> actor start latency per transport.

    python -m bench.trigger [--count 200] [--database-url postgresql://...]

For each transport (local: in-process broker; redis: a ``bacnet-pipeline worker`` process; http: a
``bacnet-pipeline gateway`` process) it enqueues ``ping`` jobs one after the other, as clicks would
come, and measures from the moment ``enqueue()`` starts (``job_run.enqueued_at``) to the moment the
worker starts the actor (``job_run.started_at``). Both stamps come from the same clock on this
machine. The last line printed is one JSON object with p50/p99 per transport in milliseconds.

Rounds of one ping per transport are separated by ``--idle-ms`` of quiet, because a click comes
to an idle worker. The redis numbers are compared with a second worker polling at Dramatiq's
default (``redis_default``), measured in the same run.

Bounded: ``--count`` rounds (at most 2000), each ping waited for at most 10 s. All BACnet
sockets are on loopback; no device is contacted (ping does not use the network).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

#: Rounds sent before measuring, so connection pools and caches are warm.
WARMUP = 3
#: Longest wait for one ping to start (seconds).
PING_TIMEOUT = 10.0
#: Loopback addresses of the worker processes' BACnet sockets (they open one even for ping).
BIND = {"local": "127.0.250.1/8:47809", "redis": "127.0.250.2/8:47809", "http": "127.0.250.3/8:47809",
        "redis_default": "127.0.250.4/8:47809"}
#: Dramatiq's own idle poll bound: the baseline the redis numbers are compared with.
DRAMATIQ_DEFAULT_POLL_MS = 1000
COMMAND = str(Path(sys.executable).with_name("bacnet-pipeline"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _start(args: list[str], env: dict, log: Path, ready: str) -> subprocess.Popen:
    handle = open(log, "w")
    process = subprocess.Popen([COMMAND, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while ready not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{args[0]} did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return process


def _ping(app, site_id: int) -> float:
    """Enqueue one ping and wait until a worker starts it; the latency in ms."""
    from app.extensions import db
    from app.models import JobRun
    from app.transport import enqueue

    with app.app_context():
        job_id = enqueue("ping", {"site_id": site_id}, triggered_by="cli").id
    deadline = time.monotonic() + PING_TIMEOUT
    while True:
        with app.app_context():
            run = db.session.get(JobRun, job_id)
            started, enqueued, status = run.started_at, run.enqueued_at, run.status
        if started is not None:
            return (started - enqueued).total_seconds() * 1000
        if status in ("failed", "lost") or time.monotonic() > deadline:
            raise SystemExit(f"ping {job_id} did not start (status {status})")
        time.sleep(0.002)


def _measure(app, sites: dict[str, int], count: int, idle: float) -> dict[str, list[float]]:
    """Rounds of one ping per transport, with ``idle`` seconds of quiet between rounds.

    A click comes after a quiet spell, when an idle consumer has backed off to its longest poll
    pause; pings fired back to back would only measure a busy consumer.
    """
    results: dict[str, list[float]] = {kind: [] for kind in sites}
    for round_ in range(WARMUP + count):
        for kind, site_id in sites.items():
            latency = _ping(app, site_id)
            if round_ >= WARMUP:
                results[kind].append(latency)
        time.sleep(idle)
    return results


def _cleanup(workdir: Path, redis_url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=60, help="pings per transport (max 2000)")
    parser.add_argument("--idle-ms", type=int, default=1100,
                        help="quiet time between rounds (default: just over Dramatiq's 1000 ms idle poll)")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args(argv)
    count = max(1, min(options.count, 2000))

    from app import create_app
    from app.extensions import db
    from app.models import Site
    from app.settings import load_settings, parse_bind_address
    from app.transport import LOCAL_BROKER_KEY
    from workers.broker import make_broker
    from workers.service import WorkerService

    workdir = Path(tempfile.mkdtemp(prefix="bench-trigger-"))
    database_url = options.database_url or f"sqlite:///{workdir / 'bench.db'}"
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    port = 5900 + os.getpid() % 90
    env = {**os.environ, "DATABASE_URL": database_url, "BROKER_URL": options.redis_url, "BROKER_NAMESPACE": namespace,
           "GATEWAY_SECRET": secret, "INSTANCE_DIR": str(workdir / "instance"), "LOG_LEVEL": "INFO"}
    subprocess.run([COMMAND, "db", "upgrade"], env=env, check=True, capture_output=True)
    app = create_app(settings=load_settings(
        DATABASE_URL=database_url, BROKER_URL=options.redis_url, BROKER_NAMESPACE=namespace, GATEWAY_SECRET=secret,
        GATEWAY_URL=f"http://127.0.0.1:{port}", BACNET_TRANSPORT="local", INSTANCE_DIR=str(workdir / "instance"),
        SECRET_KEY="bench"))
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    local = WorkerService(app, broker, parse_bind_address(BIND["local"]), threads=2)
    processes = [
        _start(["worker", "--threads", "2"], {**env, "BACNET_ADDRESS": BIND["redis"]}, workdir / "worker.log",
               "worker started"),
        _start(["gateway", "--port", str(port)], {**env, "BACNET_ADDRESS": BIND["http"]},
               workdir / "gateway.log", "serving on"),
        # Baseline: a worker with Dramatiq's default idle poll, on a queue of its own.
        _start(["worker", "--threads", "2", "--queue", "baseline"],
               {**env, "BACNET_ADDRESS": BIND["redis_default"], "WORKER_IDLE_POLL_MS": str(DRAMATIQ_DEFAULT_POLL_MS)},
               workdir / "worker-default.log", "worker started"),
    ]
    try:
        local.start()
        with app.app_context():
            sites = {}
            for kind in ("local", "redis", "http", "redis_default"):
                site = Site(name=f"bench {kind}", transport=kind.split("_")[0],
                            queue_name="baseline" if kind == "redis_default" else "")
                db.session.add(site)
                db.session.commit()
                sites[kind] = site.id
        results = _measure(app, sites, count, options.idle_ms / 1000)
    finally:
        local.stop(timeout_ms=5000)
        for process in processes:
            process.terminate()
            process.wait(30)
        _cleanup(workdir, options.redis_url, namespace)

    print(f"{'transport':<14} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}   ({count} pings each)")
    summary = {}
    for kind, values in results.items():
        p50, p90, p99 = (percentile(values, f) for f in (0.5, 0.9, 0.99))
        print(f"{kind:<14} {p50:8.1f} {p90:8.1f} {p99:8.1f} {statistics.mean(values):8.1f}")
        summary[f"{kind}_p50_ms"] = round(p50, 1)
        summary[f"{kind}_p99_ms"] = round(p99, 1)
    summary["redis_vs_default_p50"] = round(summary["redis_default_p50_ms"] / max(summary["redis_p50_ms"], 0.1), 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
