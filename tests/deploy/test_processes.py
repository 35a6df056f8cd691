"""The exact commands the compose files and systemd units run, started as real processes against the
local PostgreSQL and Redis, with simulated devices on loopback: the migration, gunicorn, the worker
and the scheduler collect readings together; doctor and the container health checks agree."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import REDIS_URL, require_service
from tests.deploy.files import DEPLOY, app_services, compose
from tests.e2e.test_processes import AdminSession, sql
from tests.helpers import wait_until
from tests.processes import Process, base_env, free_port, run

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SECRET_KEY = "deploy-test-secret-key-0123456789"


class Command(Process):
    """A Process running any argv (gunicorn too), not only the bacnet-pipeline console script."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen([str(BIN / argv[0]), *argv[1:]], env=env, stdout=self._log,
                                      stderr=subprocess.STDOUT)


def _local(argv: list[str], web_port: int) -> list[str]:
    """The deployed argv, listening on a free loopback port instead of 0.0.0.0:5000."""
    if argv[0] != "gunicorn":
        return argv
    index = argv.index("--bind") + 1
    return [*argv[:index], f"127.0.0.1:{web_port}", *argv[index + 1:]]


def _healthcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_deployed_commands_collect_readings_against_postgresql_and_redis(
        tmp_path, fresh_pg_database, redis_namespace, loopback_block):
    require_service("Redis", "127.0.0.1", 6379)
    base = f"127.0.{loopback_block}"
    web_port = free_port()
    # What the compose wiring means on this machine, setting by setting.
    local = {"DATABASE_URL": fresh_pg_database, "BROKER_URL": REDIS_URL, "BACNET_TRANSPORT": "redis",
             "SECRET_KEY": SECRET_KEY, "BACNET_ADDRESS": f"{base}.1/8:47809"}
    services = app_services(compose("linux"))
    envs = {}
    for role, service in services.items():
        assert set(service["environment"]) <= set(local), role
        envs[role] = base_env(tmp_path, BROKER_NAMESPACE=redis_namespace, BACNET_REQUEST_TIMEOUT="1",
                              **{name: local[name] for name in service["environment"]})

    migrate = services["migrate"]["command"]
    assert run(migrate[1:], envs["migrate"]).returncode == 0
    created = run(["create-user", "ops", "--role", "admin", "--password-stdin"], envs["web"], input="ops-password\n")
    assert created.returncode == 0, created.stderr

    processes = {
        "simulate": Process("simulate", ["simulate", "--devices", "2", "--points", "12", "--base-address",
                                         f"{base}.10", "--first-instance", "4001"], envs["worker"], tmp_path),
        **{role: Command(role, _local(services[role]["command"], web_port), envs[role], tmp_path)
           for role in ("web", "worker", "scheduler")},
    }
    try:
        processes["simulate"].wait_for("simulating 2 devices")
        processes["worker"].wait_for("worker started")
        processes["web"].wait_for(r"Booting worker with pid", timeout=60)
        url = f"http://127.0.0.1:{web_port}"
        wait_until(lambda: requests.get(url + "/healthz", timeout=5).status_code == 200, timeout=30)

        sql(fresh_pg_database, "INSERT INTO site (name, description, transport, queue_name, gateway_url, "
            "discovery_targets, writes_allowed, poll_new_points, created_at) VALUES ('Plant', '', '', '', '', "
            ":targets, false, true, now())", targets=f"{base}.10\n{base}.11")
        admin = AdminSession(url)
        admin.login("ops", "ops-password")
        assert "Discovery of site 1: started" in admin.action("site", "discover", [1])
        wait_until(lambda: sql(fresh_pg_database, "SELECT status FROM job_run WHERE actor='discover_devices'")
                   == [("succeeded",)], timeout=30)
        sql(fresh_pg_database, "INSERT INTO schedule (name, kind, site_id, interval_seconds, cron, jitter_seconds, "
                               "enabled) VALUES ('fast', 'collect', 1, 2, '', 0, true)")
        wait_until(lambda: sql(fresh_pg_database, "SELECT count(*) FROM job_run WHERE actor='collect_readings' "
                                                  "AND status='succeeded'")[0][0] >= 1, timeout=30)
        assert sql(fresh_pg_database, "SELECT count(*) FROM reading")[0][0] >= 24
        health = wait_until(lambda: (lambda h: h if h["checks"].get("scheduler", {}).get("ok") else None)(
            requests.get(url + "/healthz", timeout=5).json()), timeout=30)
        assert health["status"] == "ok", health

        # doctor on the web side: everything reachable, and a worker answers the ping.
        doctor = run(["doctor", "--mode", "web", "--ping", "--json"], envs["web"])
        report = json.loads(doctor.stdout)
        assert doctor.returncode == 0 and report["ok"], doctor.stdout
        assert [f["status"] for f in report["findings"] if f["check"] == "ping"] == ["ok"]

        # The containers' health checks, role by role.
        for role, args in (("web", ("web", str(web_port))), ("worker", ("worker",)), ("scheduler", ("scheduler",))):
            result = _healthcheck(envs[role], *args)
            assert result.returncode == 0, (role, result.stdout, result.stderr)
        assert processes["worker"].stop(signal.SIGTERM) == 0
        gone = _healthcheck(envs["worker"], "worker")
        assert gone.returncode == 1 and "socket is gone" in gone.stdout
    finally:
        codes = {name: process.stop(signal.SIGTERM) for name, process in processes.items()}
    assert codes["worker"] == 0 and codes["scheduler"] == 0 and codes["web"] == 0, codes
    for process in processes.values():
        assert "Traceback" not in process.output, process.output[-3000:]
