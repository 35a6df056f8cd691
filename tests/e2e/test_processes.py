"""The product as it is deployed: separate processes against the real PostgreSQL and Redis, and the
all-in-one process on SQLite. Operated through the admin over HTTP, like a person would."""

from __future__ import annotations

import re
import signal

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import REDIS_URL, require_service
from tests.helpers import wait_until
from tests.processes import Process, base_env, free_port, run

pytestmark = pytest.mark.e2e


class AdminSession:
    """Logs in and clicks admin actions over HTTP, CSRF tokens included."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def token(self, path: str) -> str:
        html = self.http.get(self.base + path, timeout=10).text
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    def login(self, username: str, password: str) -> None:
        response = self.http.post(self.base + "/login", data={
            "username": username, "password": password, "csrf_token": self.token("/login")},
            allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:500]

    def action(self, view: str, action: str, ids: list[int]) -> str:
        response = self.http.post(self.base + f"/admin/{view}/action/", data={
            "action": action, "rowid": [str(i) for i in ids], "csrf_token": self.token(f"/admin/{view}/")},
            timeout=10)
        assert response.status_code == 200
        return response.text

    def get(self, path: str) -> str:
        response = self.http.get(self.base + path, timeout=10)
        assert response.status_code == 200
        return response.text


def sql(url: str, query: str, **params):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(query), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


def test_production_processes_against_postgresql_and_redis(tmp_path, fresh_pg_database, redis_namespace,
                                                           loopback_block):
    require_service("Redis", "127.0.0.1", 6379)
    db_url = fresh_pg_database
    web_port = free_port()
    env = base_env(tmp_path, DATABASE_URL=db_url, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace,
                   BACNET_ADDRESS=f"127.0.{loopback_block}.1/8:47809", BACNET_REQUEST_TIMEOUT="1",
                   SECRET_KEY="e2e-secret-key-e2e-secret-key")
    assert run(["db", "upgrade"], env).returncode == 0
    created = run(["create-user", "ops", "--role", "admin", "--password-stdin"], env, input="ops-password\n")
    assert created.returncode == 0

    base = f"127.0.{loopback_block}"
    processes = {
        "sim": Process("simulate", ["simulate", "--devices", "2", "--points", "12", "--base-address", f"{base}.10",
                                    "--first-instance", "3001"], env, tmp_path),
        # A third controller in its own process, so it can be switched off mid-test.
        "sim-doomed": Process("simulate-doomed", ["simulate", "--devices", "1", "--points", "12",
                                                  "--base-address", f"{base}.12", "--first-instance", "3003"],
                              env, tmp_path),
        "worker": Process("worker", ["worker", "--threads", "2"], env, tmp_path),
        "scheduler": Process("scheduler", ["scheduler"], env, tmp_path),
        "web": Process("web", ["web", "--port", str(web_port)], env, tmp_path),
    }
    try:
        processes["sim"].wait_for("simulating 2 devices")
        processes["sim-doomed"].wait_for("simulating 1 devices")
        processes["worker"].wait_for("worker started")
        processes["web"].wait_for("serving on")
        sql(db_url, "INSERT INTO site (name, description, transport, queue_name, gateway_url, discovery_targets, "
                    "writes_allowed, poll_new_points, created_at) VALUES ('Plant', '', '', '', '', :targets, false, "
                    "true, now())", targets=f"{base}.10\n{base}.11\n{base}.12")

        admin = AdminSession(f"http://127.0.0.1:{web_port}")
        admin.login("ops", "ops-password")
        assert "Discovery of site 1: started" in admin.action("site", "discover", [1])
        wait_until(lambda: sql(db_url, "SELECT status FROM job_run WHERE actor='discover_devices'")
                   == [("succeeded",)], timeout=30)
        assert sql(db_url, "SELECT device_instance, name, status FROM device ORDER BY device_instance") == [
            (3001, "AHU-1", "online"), (3002, "VAV-1", "online"), (3003, "AHU-1", "online")]
        assert sql(db_url, "SELECT count(*) FROM point WHERE polling_enabled")[0][0] == 36
        assert "AHU-1" in admin.get("/admin/device/")
        assert "Point refresh of site 1: started" in admin.action("site", "refresh", [1])
        wait_until(lambda: sql(db_url, "SELECT status, summary FROM job_run WHERE actor='refresh_points'")[:1]
                   and sql(db_url, "SELECT status FROM job_run WHERE actor='refresh_points'") == [("succeeded",)],
                   timeout=30)
        summary = sql(db_url, "SELECT summary FROM job_run WHERE actor='refresh_points'")[0][0]
        assert (summary["points"], summary["new_points"]) == (36, 0)

        # A 2-second collect schedule, added as an operator would; the running scheduler picks it up.
        sql(db_url, "INSERT INTO schedule (name, kind, site_id, interval_seconds, cron, jitter_seconds, enabled) "
                    "VALUES ('fast', 'collect', 1, 2, '', 0, true)")
        wait_until(lambda: sql(db_url, "SELECT count(*) FROM job_run WHERE actor='collect_readings' "
                                       "AND triggered_by='schedule' AND status='succeeded'")[0][0] >= 2, timeout=30)
        readings_before = sql(db_url, "SELECT count(*) FROM reading")[0][0]
        assert readings_before >= 72

        # Switch one controller off: it goes offline, the other two keep being collected.
        processes["sim-doomed"].stop()
        wait_until(lambda: sql(db_url, "SELECT status FROM device WHERE device_instance=3003") == [("offline",)],
                   timeout=30)
        count_at_offline = sql(db_url, "SELECT count(*) FROM reading")[0][0]
        wait_until(lambda: sql(db_url, "SELECT count(*) FROM reading")[0][0] >= count_at_offline + 48, timeout=30)
        # The cycles in which it failed are partial (the others' readings stored), naming it alone.
        assert sql(db_url, "SELECT count(*) FROM job_run WHERE status NOT IN ('succeeded', 'partial', 'queued', "
                           "'running')") == [(0,)]
        partial = sql(db_url, "SELECT error FROM job_run WHERE status = 'partial'")
        assert partial and all(error.startswith(f"3003 ({base}.12): ") and "\n" not in error
                               for (error,) in partial), partial
        last_error = sql(db_url, "SELECT last_error FROM device WHERE device_instance=3003")[0][0]
        assert "no answer within 1 s" in last_error
        assert "offline" in admin.get("/admin/device/")

        health = requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=10).json()
        assert health["status"] == "ok"
    finally:
        codes = {name: process.stop(signal.SIGTERM) for name, process in processes.items()}
    assert codes["worker"] == 0, processes["worker"].output[-2000:]
    assert codes["scheduler"] == 0, processes["scheduler"].output[-2000:]
    assert codes["web"] == 0, processes["web"].output[-2000:]
    for process in processes.values():
        assert "Traceback" not in process.output, process.output[-3000:]


def test_all_in_one_on_sqlite(tmp_path, loopback_block):
    port = free_port()
    env = base_env(tmp_path, BACNET_ADDRESS=f"127.0.{loopback_block}.1/8:47809")
    process = Process("all-in-one", ["all-in-one", "--simulate", "3", "--port", str(port),
                                     "--simulate-base-address", f"127.0.{loopback_block}.10"], env, tmp_path)
    try:
        password = process.wait_for(r"log in as admin / (\S+)", timeout=60).group(1)
        admin = AdminSession(f"http://127.0.0.1:{port}")
        admin.login("admin", password)
        db_file = tmp_path / "instance" / "bacnet-pipeline.db"
        url = f"sqlite:///{db_file}"
        wait_until(lambda: sql(url, "SELECT count(*) FROM device WHERE status='online'")[0][0] == 3, timeout=30)
        devices_page = admin.get("/admin/device/")
        assert all(name in devices_page for name in ("AHU-1", "VAV-1", "VAV-2"))
        assert "Supply Air Temp" in admin.get("/admin/point/")
        # The 10-second schedule keeps readings coming.
        wait_until(lambda: sql(url, "SELECT count(*) FROM reading")[0][0] >= 36, timeout=30)
        first = sql(url, "SELECT count(*) FROM reading")[0][0]
        wait_until(lambda: sql(url, "SELECT count(*) FROM reading")[0][0] >= first + 36, timeout=30)
        assert sql(url, "SELECT count(*) FROM job_run WHERE status='failed'") == [(0,)]
    finally:
        code = process.stop(signal.SIGINT)
    assert code == 0, process.output[-3000:]
    assert "stopped." in process.output
    assert "Traceback" not in process.output
