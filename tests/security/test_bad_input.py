"""Bad input at every web entry point: a 4xx (or the form again, with the reason), never a 500."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Device, Schedule, Site
from app.transport import LOCAL_BROKER_KEY
from tests.api.conftest import bearer, make_token
from tests.conftest import add_user
from workers.broker import make_broker

SQLISH = ["'; DROP TABLE site; --", "1 OR 1=1", "\" OR \"\"=\"", "1; SELECT pg_sleep(5)", "%' --"]
HUGE = "9" * 40


@pytest.fixture
def site_id(app):
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    with app.app_context():
        site = Site(name="Plant", discovery_targets="127.0.0.10")
        db.session.add(site)
        db.session.flush()
        db.session.add(Device(site_id=site.id, device_instance=1001, address="127.0.0.10", name="AHU-1"))
        db.session.commit()
        return site.id


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.scalar(db.select(db.func.count()).select_from(model))
                     for model in (Site, Device, Schedule))


@pytest.mark.parametrize("form, fragment", [
    ({"name": "X", "discovery_targets": "127.0.0.0/4"}, "a sweep may cover at most 65536"),
    ({"name": "X", "discovery_targets": "127.0.0.300"}, "not a BACnet address"),
    ({"name": "X", "discovery_targets": "127.0.0.0/8"}, "65536"),
    ({"name": "X", "discovery_targets": "bms.example.com"}, "is not a BACnet address"),
    ({"name": "X", "discovery_targets": "127.0.0.9-127.0.0.1"}, ""),
    *[({"name": text, "discovery_targets": text}, "") for text in SQLISH],
])
def test_site_form(app, admin_client, site_id, form, fragment):
    before = _counts(app)
    data = {"description": "", "queue_name": "", "gateway_url": "", "transport": "", **form}
    response = admin_client.post("/admin/site/new/", data=data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert fragment in response.get_data(as_text=True)
        assert _counts(app) == before


@pytest.mark.parametrize("form, fragment", [
    ({"device_instance": "4194303", "address": "127.0.0.11"}, "Number must be between 0 and 4194302"),
    ({"device_instance": "-1", "address": "127.0.0.11"}, "Number must be between 0 and 4194302"),
    ({"device_instance": HUGE, "address": "127.0.0.11"}, ""),
    ({"device_instance": "12", "address": "bms.example.com"}, "is not a device address"),
    ({"device_instance": "12", "address": "127.0.0.0/24"}, "is not a device address"),
    ({"device_instance": "12", "address": "70000:5"}, "is not a device address"),
    *[({"device_instance": "12", "address": text}, "") for text in SQLISH],
])
def test_device_form(app, admin_client, site_id, form, fragment):
    before = _counts(app)
    data = {"site": str(site_id), "name": "x", "polling_enabled": "y", **form}
    response = admin_client.post("/admin/device/new/", data=data)
    assert response.status_code == 200, "a bad device must come back as the form, with the reason"
    assert fragment in response.get_data(as_text=True)
    assert _counts(app) == before


@pytest.mark.parametrize("form", [
    {"interval_seconds": "", "cron": "@hourly"},
    {"interval_seconds": "", "cron": "61 25 32 13 8"},
    {"interval_seconds": "-5", "cron": ""},
    {"interval_seconds": HUGE, "cron": ""},
    {"interval_seconds": "ten", "cron": ""},
    {"interval_seconds": "10", "cron": "", "jitter_seconds": "10"},
    *[{"interval_seconds": "", "cron": text} for text in SQLISH],
])
def test_schedule_form(app, admin_client, site_id, form):
    before = _counts(app)
    data = {"name": "s", "kind": "collect", "site": str(site_id), "jitter_seconds": "0", **form}
    response = admin_client.post("/admin/schedule/new/", data=data)
    assert response.status_code == 200
    assert _counts(app) == before


@pytest.mark.parametrize("path", [
    "/admin/point/readings.json?id=1&window=' OR 1=1",
    f"/admin/point/readings.json?id={HUGE}",
    "/admin/jobrun/status.json?id=-1",
    f"/admin/jobrun/status.json?id={HUGE}",
    "/admin/discover/job/?id=abc",
    "/admin/device/?page=" + HUGE,
    "/admin/device/?sort=" + HUGE,
    "/admin/device/?search=" + "%27%3B%20DROP%20TABLE%20device%3B%20--",
    "/admin/reading/?flt1_0=" + "not-a-date",
])
def test_admin_queries(admin_client, site_id, path):
    assert admin_client.get(path).status_code < 500


@pytest.mark.parametrize("path", [
    "/api/v1/devices?site_id=" + HUGE, "/api/v1/devices?site_id=-1", "/api/v1/devices?status=' OR 1=1",
    "/api/v1/points?polling=maybe", "/api/v1/points?page=" + HUGE, "/api/v1/points?per_page=1001",
    "/api/v1/points?per_page=0", "/api/v1/points/1/readings?start=yesterday",
    "/api/v1/points/1/readings?start=2024-13-45T99:00:00Z", "/api/v1/points/1/readings?format=xml",
    "/api/v1/jobs?status=" + SQLISH[0], "/api/v1/devices/" + HUGE, "/api/v1/sites?unknown=1",
])
def test_api_queries(app, client, site_id, path):
    token = make_token(app)
    response = client.get(path, headers=bearer(token))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.json["error"]["message"]


@pytest.mark.parametrize("body", [
    b"{", b"[]", b"null", b'{"actor": 5}', b'{"actor": "collect_readings", "kwargs": {"site_id": 1e400}}',
    b'{"actor": "collect_readings", "kwargs": {"site_id": ' + HUGE.encode() + b"}}",
    b'{"actor": "discover_devices", "kwargs": {"site_id": 1, "targets": ["127.0.0.0/4"]}}',
    b'{"actor": "discover_devices", "kwargs": {"site_id": 1, "ranges": ["0.0.0.0/0"]}}',
    b'{"actor": "discover_devices", "kwargs": {"site_id": 1, "low_limit": 5, "high_limit": 99999999}}',
    b'{"actor": "write_point", "kwargs": {"site_id": 1, "point_id": 1, "priority": 17, "value": 1}}',
    b'{"actor": "' + SQLISH[0].encode() + b'"}', b"\xff\xfe\x00", b'{"a":' * 5000,
    b'{"actor": "ping", "kwargs": {"site_id": NaN}}',
])
def test_api_job_bodies(app, client, site_id, body):
    token = make_token(app)
    response = client.post("/api/v1/jobs", data=body, headers={**bearer(token), "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, (body[:60], response.status_code, response.data[:200])
    assert response.json["error"]["message"]


def test_login_form_garbage(app, client):
    add_user(app)
    for username, password in ((SQLISH[0], SQLISH[1]), ("x" * 500, "y"), ("", ""), ("alice", "z" * 10_000)):
        assert client.post("/login", data={"username": username, "password": password}).status_code in (200, 401)
