"""The admin's own pages: point page (trend, write), CSV selection, job status, discover page."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site, WriteAudit, utcnow
from app.transport import LOCAL_BROKER_KEY
from tests.conftest import add_user
from workers.broker import make_broker
from tests.helpers import add_site_and_device


@pytest.fixture
def plant(app):
    """A site with one device and two points (a sensor with readings, a commandable setpoint)."""
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")  # jobs are accepted and stay queued
    now = utcnow()
    with app.app_context():
        device = add_site_and_device("Plant", "127.0.0.10", device_instance=1001, name="AHU-1", status="online")
        sensor = Point(device_id=device.id, object_type="analog-input", object_instance=1, name="AHU-1 SAT",
                       units="degrees-celsius", polling_enabled=True, last_value=13.2, last_read_at=now)
        setpoint = Point(device_id=device.id, object_type="analog-value", object_instance=1, name="AHU-1 SAT SP",
                         units="degrees-celsius", writable=True)
        db.session.add_all([sensor, setpoint])
        db.session.flush()
        for minutes in range(0, 120, 2):  # two hours of readings
            db.session.add(Reading(point_id=sensor.id, ts=now - timedelta(minutes=minutes), value=13 + minutes / 100))
        db.session.commit()
        return {"site": device.site_id, "device": device.id, "sensor": sensor.id, "setpoint": setpoint.id}


def test_point_page_shows_value_and_chart(admin_client, plant):
    html = admin_client.get(f"/admin/point/details/?id={plant['sensor']}").get_data(as_text=True)
    assert 'id="trend"' in html and "readings.json" in html
    assert "13.2" in html and "degrees-celsius" in html
    assert "uPlot.iife.min.js" in html and "cdn" not in html.lower()
    assert 'id="write-form"' not in html  # a sensor is not commandable


def test_trend_windows(admin_client, plant):
    hour = admin_client.get(f"/admin/point/readings.json?id={plant['sensor']}&window=hour").get_json()
    day = admin_client.get(f"/admin/point/readings.json?id={plant['sensor']}&window=day").get_json()
    assert hour["stored"] == 30 and day["stored"] == 60  # minutes 0..58, and all 60
    assert hour["t"] == sorted(hour["t"]) and len(hour["t"]) == len(hour["v"])
    assert admin_client.get(f"/admin/point/readings.json?id={plant['sensor']}&window=year").status_code == 400
    assert admin_client.get("/admin/point/readings.json?id=abc").status_code == 400
    assert admin_client.get("/admin/point/readings.json?id=999").status_code == 404


def test_long_windows_are_thinned(app, admin_client, plant):
    from app.admin import trend

    with app.app_context():
        assert len(trend.trend(plant["sensor"], "day")["t"]) == 60
    original = trend.MAX_SAMPLES
    trend.MAX_SAMPLES = 10
    try:
        thinned = admin_client.get(f"/admin/point/readings.json?id={plant['sensor']}&window=day").get_json()
    finally:
        trend.MAX_SAMPLES = original
    assert thinned["stored"] == 60 and thinned["samples"] == 10


def test_write_form_only_where_writes_are_allowed(app, admin_client, plant):
    page = f"/admin/point/details/?id={plant['setpoint']}"
    assert 'id="write-card"' not in admin_client.get(page).get_data(as_text=True)
    with app.app_context():
        db.session.get(Site, plant["site"]).writes_allowed = True
        db.session.commit()
    html = admin_client.get(page).get_data(as_text=True)
    assert 'id="write-form"' in html and '<option value="8"' in html and '<option value="7"' not in html


def test_write_through_the_page_is_queued_or_refused_and_audited(app, admin_client, plant):
    url = f"/admin/point/write/?id={plant['setpoint']}"
    refused = admin_client.post(url, data={"value": "15", "priority": "10", "relinquish": "0"}, follow_redirects=True)
    assert b"Write refused: writes are not allowed on site" in refused.data
    with app.app_context():
        db.session.get(Site, plant["site"]).writes_allowed = True
        db.session.commit()
    low = admin_client.post(url, data={"value": "15", "priority": "3", "relinquish": "0"}, follow_redirects=True)
    assert b"priority 3 is outside the range 8..16" in low.data
    queued = admin_client.post(url, data={"value": "15.5", "priority": "10", "relinquish": "0"})
    assert queued.status_code == 302 and "job=" in queued.headers["Location"]
    relinquish = admin_client.post(url, data={"value": "", "priority": "10", "relinquish": "1"})
    assert relinquish.status_code == 302
    with app.app_context():
        jobs = db.session.execute(db.select(JobRun).where(JobRun.actor == "write_point")).scalars().all()
        assert [(j.kwargs.get("value"), j.kwargs["priority"], j.kwargs["requested_by"]) for j in jobs] == [
            (15.5, 10, "alice"), (None, 10, "alice")]
        audits = db.session.execute(db.select(WriteAudit.result, WriteAudit.priority)).all()
        assert audits == [("refused", 10), ("refused", 3)]


def test_viewers_cannot_write_or_trigger_reads(app, client, plant):
    with app.app_context():
        db.session.get(Site, plant["site"]).writes_allowed = True
        db.session.commit()
    add_user(app, "victor", role="viewer")
    client.post("/login", data={"username": "victor", "password": "correct-horse"})
    html = client.get(f"/admin/point/details/?id={plant['setpoint']}").get_data(as_text=True)
    assert "Only administrators may command points" in html and 'id="read-now"' not in html
    assert client.post(f"/admin/point/write/?id={plant['setpoint']}",
                       data={"value": "1", "priority": "10"}).status_code == 403
    assert client.post(f"/admin/point/read-now/?id={plant['setpoint']}").status_code == 403


def test_read_now_returns_a_job_to_follow(app, admin_client, plant):
    response = admin_client.post(f"/admin/point/read-now/?id={plant['setpoint']}")
    assert response.status_code == 202
    body = response.get_json()
    status = admin_client.get(body["status_url"]).get_json()
    assert status["actor"] == "read_point" and status["status"] == "queued" and status["finished"] is False


def test_csv_selection_with_a_per_row_report(app, admin_client, plant):
    csv = ("device_instance,object_type,object_instance,polling\n"
           "1001,AV,1,yes\n"          # setpoint: now polled
           "1001,analog-input,1,no\n"  # sensor: no longer polled
           "1001,analog-input,9,yes\n"  # no such point
           "abc,ai,1,yes\n"            # bad number
           "1001,ai,1,maybe\n")        # bad polling word
    response = admin_client.post("/admin/point/import/", data={"file": (io.BytesIO(csv.encode()), "points.csv")},
                                 content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert "1 point(s) now polled, 1 no longer polled, 0 unchanged, 3 row(s) with errors" in html
    assert "<td>4</td><td>no point analog-input,9 on device 1001" in html
    assert "<td>5</td><td>device_instance and object_instance must be whole numbers" in html
    assert "<td>6</td><td>polling must be yes or no, not &#39;maybe&#39;" in html
    with app.app_context():
        assert db.session.get(Point, plant["setpoint"]).polling_enabled is True
        assert db.session.get(Point, plant["sensor"]).polling_enabled is False


def test_csv_without_the_needed_columns(admin_client, plant):
    response = admin_client.post("/admin/point/import/", data={"file": (io.BytesIO(b"name,value\nx,1\n"), "p.csv")},
                                 content_type="multipart/form-data", follow_redirects=True)
    assert b"the header must name the columns device_instance, object_type, object_instance" in response.data


def test_job_detail_status_and_run_again(app, admin_client, plant):
    with app.app_context():
        db.session.add(JobRun(message_id="m-old", actor="collect_readings", kwargs={"site_id": plant["site"]},
                              site_id=plant["site"], transport="local", triggered_by="schedule", status="failed",
                              error="device 1001 did not answer"))
        db.session.commit()
        job_id = db.session.execute(db.select(JobRun.id)).scalar_one()
    assert b"device 1001 did not answer" in admin_client.get(f"/admin/jobrun/details/?id={job_id}").data
    assert admin_client.get(f"/admin/jobrun/status.json?id={job_id}").get_json()["status"] == "failed"
    assert admin_client.get("/admin/jobrun/status.json?id=x").status_code == 400
    response = admin_client.post("/admin/jobrun/action/", data={"action": "run_again", "rowid": [str(job_id)]},
                                 follow_redirects=True)
    assert f"Job {job_id} again: started".encode() in response.data
    with app.app_context():
        again = db.session.execute(db.select(JobRun).where(JobRun.id != job_id)).scalar_one()
        assert (again.actor, again.kwargs, again.triggered_by) == ("collect_readings", {"site_id": plant["site"]},
                                                                   "user")


@pytest.mark.parametrize("form, fragment", [
    ({"mode": "addresses", "targets": ""}, "give at least one device address"),
    ({"mode": "addresses", "targets": "bms.example.com"}, "is not a BACnet address"),
    ({"mode": "range", "targets": "127.0.0.0/8"}, "65536"),
    ({"mode": "broadcast", "low_limit": "10"}, "give both low_limit and high_limit"),
    ({"mode": "broadcast", "low_limit": "x", "high_limit": "5"}, "must be a device instance number"),
])
def test_discover_page_explains_bad_input(app, admin_client, plant, form, fragment):
    response = admin_client.post("/admin/discover/", data={"site_id": str(plant["site"]), **form})
    assert response.status_code == 200
    assert fragment in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 0


def test_discover_page_starts_a_job_and_shows_it(app, admin_client, plant):
    response = admin_client.post("/admin/discover/", data={
        "site_id": str(plant["site"]), "mode": "range", "targets": "127.0.0.10-127.0.0.20", "refresh_points": "1"})
    assert response.status_code == 302 and "/admin/discover/job/?id=" in response.headers["Location"]
    with app.app_context():
        run = db.session.execute(db.select(JobRun)).scalar_one()
        assert run.kwargs == {"site_id": plant["site"], "ranges": ["127.0.0.10-127.0.0.20"], "refresh_points": True}
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Status: <strong id=\"job-status\">queued</strong>" in page and "discover.js" in page


def test_bulk_polling_actions_on_devices_and_points(app, admin_client, plant):
    response = admin_client.post("/admin/device/action/", follow_redirects=True,
                                 data={"action": "disable_polling", "rowid": [str(plant["device"])]})
    assert b"Polling disabled for 1 device(s)." in response.data
    response = admin_client.post("/admin/point/action/", follow_redirects=True,
                                 data={"action": "enable_polling", "rowid": [str(plant["setpoint"])]})
    assert b"Polling enabled for 1 point(s)." in response.data
    with app.app_context():
        assert db.session.get(Device, plant["device"]).polling_enabled is False
        assert db.session.get(Point, plant["setpoint"]).polling_enabled is True


@pytest.mark.parametrize("path", ["/admin/", "/admin/device/", "/admin/jobrun/"])
def test_every_admin_page_loads_the_project_stylesheet(admin_client, path):
    # Multi-line job errors and the width of long device-supplied names rely on it (issue 12).
    page = admin_client.get(path)
    assert page.status_code == 200
    assert "/static/css/admin.css" in page.get_data(as_text=True)
