"""Admin views with the test client: login, roles, pages, actions."""

import re

import pytest

from app.extensions import db
from app.models import JobRun, Point, Reading, Schedule, ProcessHeartbeat, Site, utcnow
from tests.conftest import add_user, build_app

from tests.helpers import add_site_and_device

PAGES = ["/admin/", "/admin/site/", "/admin/device/", "/admin/point/", "/admin/schedule/", "/admin/jobrun/",
         "/admin/reading/"]


def _populate(app) -> None:
    with app.app_context():
        device = add_site_and_device("Plant", "127.0.0.10", device_instance=1001, name="AHU-1", status="online")
        site = device.site
        point = Point(device_id=device.id, object_type="analog-input", object_instance=1,
                      name="AHU-1 Supply Air Temp", units="degrees-celsius", polling_enabled=True)
        db.session.add(point)
        db.session.flush()
        db.session.add(Reading(point_id=point.id, ts=utcnow(), value=13.2))
        db.session.add(Schedule(name="every 10 s", kind="collect", site_id=site.id, interval_seconds=10))
        db.session.add(JobRun(message_id="m1", actor="collect_readings", kwargs={"site_id": site.id},
                              site_id=site.id, transport="local", triggered_by="user", status="failed",
                              error="gateway unreachable"))
        db.session.commit()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_requires_login(client, page):
    response = client.get(page)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_with_a_wrong_password_is_refused(app, client):
    add_user(app)
    response = client.post("/login", data={"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert b"Wrong username or password" in response.data
    assert client.get("/admin/").status_code == 302


def test_login_does_not_redirect_off_site(app, client):
    add_user(app)
    response = client.post("/login?next=//evil.example/", data={"username": "alice", "password": "correct-horse"})
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_for_an_admin(app, admin_client, page):
    _populate(app)
    response = admin_client.get(page)
    assert response.status_code == 200, response.data[:500]


def test_dashboard_shows_counts_and_failures(app, admin_client):
    _populate(app)
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="points-polled">\s*1\s*<', html)
    assert re.search(r'id="readings-last-hour">\s*1\s*<', html)
    assert "gateway unreachable" in html
    assert "<td>Plant</td><td>1</td><td>0</td><td>0</td>" in html


def test_device_list_shows_status_badge(app, admin_client):
    _populate(app)
    html = admin_client.get("/admin/device/").get_data(as_text=True)
    assert 'badge-success">online<' in html


def test_viewer_cannot_edit_or_trigger(app, client):
    _populate(app)
    add_user(app, "victor", role="viewer")
    client.post("/login", data={"username": "victor", "password": "correct-horse"})
    assert client.get("/admin/site/").status_code == 200
    assert client.get("/admin/site/new/").status_code == 302
    with app.app_context():
        site_id = db.session.execute(db.select(Site.id)).scalar_one()
    response = client.post("/admin/site/action/", data={"action": "collect", "rowid": [str(site_id)]})
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 1  # only the fixture's


def test_collect_now_action_records_a_job(app, admin_client):
    _populate(app)
    with app.app_context():
        site_id = db.session.execute(db.select(Site.id)).scalar_one()
    response = admin_client.post("/admin/site/action/", data={"action": "collect", "rowid": [str(site_id)]},
                                 follow_redirects=True)
    # No worker in this test process: the job is recorded and fails with a reason the user sees.
    assert b"could not start: no worker runs in this process" in response.data
    with app.app_context():
        run = db.session.execute(db.select(JobRun).where(JobRun.message_id != "m1")).scalar_one()
        assert (run.actor, run.triggered_by, run.triggered_by_detail) == ("collect_readings", "user", "alice")


def test_site_form_rejects_bad_targets(app, admin_client):
    response = admin_client.post("/admin/site/new/", data={"name": "X", "discovery_targets": "bms.example.com",
                                                           "transport": "", "description": "", "queue_name": "",
                                                           "gateway_url": ""})
    assert response.status_code == 200
    assert b"is not a BACnet address" in response.data
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Site)) == 0


def test_schedule_form_needs_interval_or_cron(app, admin_client):
    _populate(app)
    with app.app_context():
        site_id = db.session.execute(db.select(Site.id)).scalar_one()
    response = admin_client.post("/admin/schedule/new/", data={"name": "n", "kind": "collect", "site": str(site_id),
                                                               "interval_seconds": "", "cron": "",
                                                               "jitter_seconds": "0"})
    assert b"give an interval in seconds or a cron expression" in response.data


def test_csrf_is_enforced(tmp_path):
    app = build_app(tmp_path, test_config={"WTF_CSRF_ENABLED": True})
    add_user(app)
    client = app.test_client()
    response = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert response.status_code == 400
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "alice", "password": "correct-horse", "csrf_token": token})
    assert response.status_code == 302


def test_session_cookie_flags(app, client):
    add_user(app)
    response = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_healthz(app, client):
    with app.app_context():
        db.session.add(ProcessHeartbeat(instance="h:1:a", kind="scheduler", host="h", pid=1, role="leader", detail={}))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "detail": "reachable"}
    assert body["checks"]["broker"] == {"ok": True, "detail": "in-process broker"}
    # Anonymous callers learn that a leader runs, not where (tests/security/test_login_sessions.py).
    assert body["checks"]["scheduler"]["ok"] and body["checks"]["scheduler"]["detail"] == "a leader runs, 0 standby"
    add_user(app)
    client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert client.get("/healthz").get_json()["checks"]["scheduler"]["detail"] == "leader h pid 1, 0 standby"


def test_healthz_degraded_without_scheduler_or_broker(tmp_path):
    app = build_app(tmp_path, BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    # The web itself works: 200, but the report says what is missing.
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["scheduler"] == {"ok": False,
                                           "detail": "no scheduler is running (start 'bacnet-pipeline scheduler')"}


def test_schedule_form_rejects_bad_cron(app, admin_client):
    _populate(app)
    with app.app_context():
        site_id = db.session.execute(db.select(Site.id)).scalar_one()
    response = admin_client.post("/admin/schedule/new/", data={"name": "n", "kind": "collect", "site": str(site_id),
                                                               "interval_seconds": "", "cron": "*/15 * * *",
                                                               "jitter_seconds": "0"})
    assert b"must have 5 fields" in response.data
    response = admin_client.post("/admin/schedule/new/", data={"name": "n", "kind": "collect", "site": str(site_id),
                                                               "interval_seconds": "", "cron": "61 * * * *",
                                                               "jitter_seconds": "0"})
    assert b"cron &#39;61 * * * *&#39;" in response.data
    response = admin_client.post("/admin/schedule/new/", data={"name": "n", "kind": "collect", "site": str(site_id),
                                                               "interval_seconds": "", "cron": "*/15 * * * *",
                                                               "jitter_seconds": "0"})
    assert response.status_code == 302


def test_dashboard_says_whether_a_scheduler_runs(app, admin_client):
    assert "No scheduler is running" in admin_client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        db.session.add(ProcessHeartbeat(instance="h:9:a", kind="scheduler", host="ops-box", pid=9,
                                        role="leader", detail={}))
        db.session.commit()
    assert "leader ops-box (pid 9)" in admin_client.get("/admin/").get_data(as_text=True)


def test_dashboard_shows_workers_and_queue_depths(app, admin_client):
    from app.transport import LOCAL_BROKER_KEY, enqueue
    from workers.broker import make_broker

    _populate(app)
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    with app.app_context():
        site_id = db.session.execute(db.select(Site.id)).scalar_one()
        enqueue("collect_readings", {"site_id": site_id}, triggered_by="user")
        enqueue("collect_readings", {"site_id": site_id}, triggered_by="user")
        db.session.add(ProcessHeartbeat(instance="w:1:a", kind="worker", host="plant-pc", pid=42, role="worker",
                                        detail={"bacnet": "127.0.0.1/8:47809", "queues": ["bacnet"]}))
        db.session.commit()
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert "plant-pc (42)" in html and "127.0.0.1/8:47809" in html
    assert "<td>local</td><td>this process</td>\n            <td>2</td>" in html


def test_failed_logins_are_slowed_per_user_and_address(app, client):
    from app.login_throttle import FREE_FAILURES

    add_user(app)
    for _ in range(FREE_FAILURES):
        assert client.post("/login", data={"username": "alice", "password": "guess"}).status_code == 401
    slowed = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert slowed.status_code == 429 and b"Too many failed logins" in slowed.data
    assert 1 <= int(slowed.headers["Retry-After"]) <= 2
    # The same user from another address is not slowed (more in tests/security/test_login_sessions.py).
    other = app.test_client()
    response = other.post("/login", data={"username": "alice", "password": "correct-horse"},
                          environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert response.status_code == 302


def test_address_limit_covers_many_user_names(app, client):
    from app.login_throttle import MAX_PER_ADDRESS

    add_user(app)
    for i in range(MAX_PER_ADDRESS):
        client.post("/login", data={"username": f"user{i}", "password": "guess"})
    assert client.post("/login", data={"username": "alice", "password": "correct-horse"}).status_code == 429


def test_success_clears_the_failures_of_that_name_from_that_address(app, client):
    from app.models import LoginFailure

    add_user(app)
    for _ in range(2):
        client.post("/login", data={"username": "alice", "password": "guess"})
    app.test_client().post("/login", data={"username": "alice", "password": "guess"},
                           environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert client.post("/login", data={"username": "alice", "password": "correct-horse"}).status_code == 302
    with app.app_context():
        # The failure from elsewhere stays: a real login does not wipe out evidence of guessing.
        assert db.session.execute(db.select(LoginFailure.address)).scalars().all() == ["127.0.0.9"]


def test_security_headers_and_secure_cookie_over_https(app, client):
    add_user(app)
    plain = client.get("/login")
    assert plain.headers["X-Frame-Options"] == "DENY" and plain.headers["X-Content-Type-Options"] == "nosniff"
    over_https = client.post("/login", data={"username": "alice", "password": "correct-horse"},
                             base_url="https://localhost")
    assert "Secure" in over_https.headers["Set-Cookie"]
    other = app.test_client()
    over_http = other.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert "Secure" not in over_http.headers["Set-Cookie"]


def test_content_security_policy_has_no_unsafe_inline_script(admin_client):
    for url in ("/login", "/admin/", "/admin/site/"):
        policy = admin_client.get(url).headers["Content-Security-Policy"]
        script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script and "'self'" in script
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
