"""Garbage on the BACnet port: the worker survives, keeps working, and logs each kind once."""

from __future__ import annotations

import os
import random
import socket
import time

import pytest

from app.extensions import db
from app.models import Site
from app.transport import enqueue
from tests.conftest import REDIS_URL, build_app
from tests.helpers import wait_for_job
from tests.processes import Process, base_env, run

pytestmark = pytest.mark.e2e

#: Datagrams no BACnet stack should choke on: empty, truncated headers, wrong BVLL type/version,
#: lengths that lie, random bytes, an NPDU with a bad version, a confirmed request cut short.
GARBAGE = [
    b"", b"\x81", b"\x81\x0a", b"\x81\x0a\x00", b"\x81\x0a\x00\x05\x01",
    b"\x81\x0a\xff\xff" + b"\x00" * 8, b"\x82\x0a\x00\x08\x01\x00\x10\x08", b"\x81\x0b\x00\x04",
    b"\x81\x0a\x00\x08\x02\x00\x10\x08", b"\x81\x0a\x00\x09\x01\x04\x00\x05\x01",
]


def test_worker_survives_garbage_datagrams(tmp_path, simulator, loopback_block, redis_namespace):
    bind_host = f"127.0.{loopback_block}.1"
    env = base_env(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace,
                   BACNET_ADDRESS=f"{bind_host}/8:47809", BACNET_REQUEST_TIMEOUT="1")
    assert run(["db", "upgrade"], env).returncode == 0
    worker = Process("worker", ["worker", "--threads", "2"], env, tmp_path)
    try:
        worker.wait_for("worker started")
        rng = random.Random(7)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(50):  # 50 rounds: known garbage plus random bytes of random length
            for payload in GARBAGE + [os.urandom(rng.randrange(1, 600)), b"\x81\x0a\x00\x10" + os.urandom(12)]:
                sock.sendto(payload, (bind_host, 47809))
        sock.close()
        time.sleep(1.0)
        assert worker.popen.poll() is None, "the worker died"
        # It still works: a discovery through the worker (same SQLite file, jobs via Redis) succeeds.
        app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis")
        with app.app_context():
            site = Site(name="After garbage", discovery_targets="\n".join(simulator.addresses))
            db.session.add(site)
            db.session.commit()
            job_id = enqueue("discover_devices", {"site_id": site.id}, triggered_by="cli").id
        job = wait_for_job(app, job_id, timeout=30)
        assert job.status == "succeeded" and job.summary["found"] == 3, job.error
    finally:
        worker.stop()
    errors = [line for line in worker.output.splitlines() if "error processing incoming PDU" in line]
    # Hundreds of bad datagrams, a handful of distinct decode errors: one line each, no tracebacks.
    assert 1 <= len(errors) <= 12, errors
    assert "Traceback" not in worker.output
