"""The native gateway (in-process queue, its default) killed with SIGKILL while one collection runs
and two wait, then started again.

Proves: while it is down the web side says so — the dashboard's queue panel (app.queues) shows
"gateway unreachable", the gateway's /healthz does not answer, and an enqueue fails at once with
the reason on a failed row; the jobs it had accepted (the running one and the queued ones) are not
silently dropped: the restarted gateway marks them lost with the reason (the in-process queue died
with the process); afterwards it reports healthy and runs new jobs.
"""

from __future__ import annotations

import pytest
import requests

from app.queues import queue_depths
from app.transport import EnqueueError, enqueue
from tests.conftest import add_user
from tests.faults.common import discover, web_side
from tests.faults.stack import Stack
from tests.helpers import wait_for_job, wait_until
from tests.processes import free_port

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

SECRET = "faults-gateway-secret-0123456789abcdef"


def test_gateway_killed_and_restarted(tmp_path, shared_pg_database, loopback_block):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack = Stack(tmp_path, database_url=shared_pg_database, block=loopback_block, GATEWAY_SECRET=SECRET,
                  WORKER_THREADS="1")
    stack.upgrade()
    app = web_side(stack, GATEWAY_SECRET=SECRET, GATEWAY_URL=url, BACNET_TRANSPORT="http")
    add_user(app, "ops", password="ops-password")
    browser = app.test_client()
    assert browser.post("/login", data={"username": "ops", "password": "ops-password"}).status_code == 302
    try:
        stack.simulate("simulate", devices=2, points=60, first=10, first_instance=4401,
                       extra=("--latency-ms", "400", "--max-apdu", "480"))
        stack.start("gateway", ["gateway", "--port", str(port)], "serving on")
        site_id = stack.add_site("Remote", [stack.address(10), stack.address(11)])
        discover(app, site_id)
        with app.app_context():
            accepted = [enqueue("collect_readings", {"site_id": site_id}, triggered_by="cli").id for _ in range(3)]
        wait_until(lambda: stack.job(accepted[0])["status"] == "running", timeout=30, interval=0.02)
        stack.kill("gateway")

        # Down: every way the web side looks at it says so.
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/healthz", timeout=5)
        with app.app_context():
            assert queue_depths(app.config["SETTINGS"]) == [
                {"transport": "http", "where": url, "depth": None, "error": "gateway unreachable"}]
        page = browser.get("/admin/")
        assert page.status_code == 200 and "gateway unreachable" in page.get_data(as_text=True)
        with app.app_context():
            with pytest.raises(EnqueueError) as refused:
                enqueue("collect_readings", {"site_id": site_id}, triggered_by="user")
        assert str(refused.value) == f"gateway at {url} unreachable: connection refused"
        assert stack.job(refused.value.job_run_id)["status"] == "failed"
        assert [stack.job(job_id)["status"] for job_id in accepted] == ["running", "queued", "queued"]

        restarted = stack.start("gateway", ["gateway", "--port", str(port)], "serving on")
        assert "marked 3 job(s) of the previous gateway run as lost" in restarted.output
        for job_id in accepted:
            job = stack.job(job_id)
            assert (job["status"], job["error"]) == ("lost", "the gateway restarted before this job finished")
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        with app.app_context():
            assert queue_depths(app.config["SETTINGS"])[0]["depth"] == 0
            after = enqueue("collect_readings", {"site_id": site_id}, triggered_by="cli").id
        job = wait_for_job(app, after, timeout=30)
        assert job.status == "succeeded", job.error
        assert job.summary["readings"] == 120
    finally:
        codes = stack.stop_all()
    assert codes["gateway-2"] == 0
    assert stack.tracebacks("gateway-2") == []
