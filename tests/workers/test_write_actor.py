"""write_point through the worker: policy, audit, the device's answer."""

from app.extensions import db
from app.models import Point, Site, WriteAudit
from app.transport import enqueue
from tests.helpers import wait_for_job
from tests.workers.test_actors import make_site, run


def _setup(app, simulator, **site_fields) -> tuple[int, int, int]:
    site_id = make_site(app, simulator)
    run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    with app.app_context():
        site = db.session.get(Site, site_id)
        for key, value in site_fields.items():
            setattr(site, key, value)
        db.session.commit()
        ids = dict(db.session.execute(db.select(Point.name, Point.id)).all())
        return site_id, ids["AHU-1 Supply Air Temp Setpoint"], ids["AHU-1 Supply Air Temp"]


def _write(app, **kwargs):
    with app.app_context():
        job_id = enqueue("write_point", {"requested_by": "alice", **kwargs}, triggered_by="user").id
    return wait_for_job(app, job_id)


def _audits(app):
    with app.app_context():
        return [(a.requested_by, a.priority, a.value, a.old_value, a.new_value, a.result, a.error)
                for a in db.session.execute(db.select(WriteAudit).order_by(WriteAudit.id)).scalars()]


def test_writes_are_off_by_default_and_refusals_are_audited(app, simulator, local_worker):
    site_id, setpoint, _ = _setup(app, simulator)
    job = _write(app, site_id=site_id, point_id=setpoint, priority=10, value=15.0)
    assert job.status == "failed"
    assert "writes are not allowed on site 'Test site'" in job.error
    assert _audits(app) == [("alice", 10, "15.0", None, None, "refused",
                             "writes are not allowed on site 'Test site' (enable them on the site first)")]


def test_write_and_relinquish_are_audited(app, simulator, local_worker):
    site_id, setpoint, _ = _setup(app, simulator, writes_allowed=True)
    job = _write(app, site_id=site_id, point_id=setpoint, priority=10, value=15.0)
    assert job.status == "succeeded", job.error
    assert job.summary["old_value"] == "13" and job.summary["new_value"] == "15"
    assert job.summary["priority_array"][9] == "15"
    job = _write(app, site_id=site_id, point_id=setpoint, priority=10)
    assert job.status == "succeeded" and job.summary["new_value"] == "13"
    assert _audits(app) == [("alice", 10, "15.0", "13", "15", "succeeded", ""),
                            ("alice", 10, None, "15", "13", "succeeded", "")]
    with app.app_context():
        assert db.session.get(Point, setpoint).last_value == 13.0


def test_read_only_points_and_priorities_outside_the_range_are_refused(app, simulator, local_worker):
    site_id, setpoint, sensor = _setup(app, simulator, writes_allowed=True)
    job = _write(app, site_id=site_id, point_id=sensor, priority=10, value=1.0)
    assert job.status == "failed" and "is not writable" in job.error
    job = _write(app, site_id=site_id, point_id=setpoint, priority=7, value=1.0)
    assert job.status == "failed" and "priority 7 is outside the range 8..16" in job.error
    assert [row[5] for row in _audits(app)] == ["refused", "refused"]


def test_a_site_may_widen_the_range(app, simulator, local_worker):
    site_id, setpoint, _ = _setup(app, simulator, writes_allowed=True, write_priority_min=6)
    job = _write(app, site_id=site_id, point_id=setpoint, priority=6, value=16.0)
    assert job.status == "succeeded", job.error
    _write(app, site_id=site_id, point_id=setpoint, priority=6)


def test_device_failure_is_audited_as_failed(app, simulator, local_worker):
    site_id, setpoint, _ = _setup(app, simulator, writes_allowed=True)
    simulator.device(2001).set_answering(False)
    job = _write(app, site_id=site_id, point_id=setpoint, priority=10, value=15.0)
    assert job.status == "failed" and "no answer" in job.error
    assert _audits(app)[-1][5] == "failed"


def test_read_point_shows_value_and_priority_array(app, simulator, local_worker):
    site_id, setpoint, sensor = _setup(app, simulator, writes_allowed=True)
    _write(app, site_id=site_id, point_id=setpoint, priority=11, value=14.5)
    with app.app_context():
        job_id = enqueue("read_point", {"site_id": site_id, "point_id": setpoint}, triggered_by="user").id
    job = wait_for_job(app, job_id)
    assert job.status == "succeeded", job.error
    assert job.summary["present_value"] == "14.5"
    assert job.summary["priority_array"][10] == "14.5"
    assert [slot for i, slot in enumerate(job.summary["priority_array"]) if i != 10] == [None] * 15
    with app.app_context():
        job_id = enqueue("read_point", {"site_id": site_id, "point_id": sensor}, triggered_by="user").id
    job = wait_for_job(app, job_id)
    assert job.status == "succeeded" and "priority_array" not in job.summary
