"""Actors end to end through the in-process broker, against simulated devices."""

from datetime import timedelta

import dramatiq

from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site, utcnow
from app.transport import enqueue
from tests.helpers import wait_for_job
from workers.health import OFFLINE_AFTER_FAILURES


def make_site(app, simulator, **fields) -> int:
    with app.app_context():
        site = Site(name="Test site", discovery_targets="\n".join(simulator.addresses), poll_new_points=True,
                    **fields)
        db.session.add(site)
        db.session.commit()
        return site.id


def run(app, actor, kwargs):
    with app.app_context():
        job_id = enqueue(actor, kwargs, triggered_by="cli").id
    return wait_for_job(app, job_id)


def test_discover_refresh_collect(app, simulator, local_worker):
    site_id = make_site(app, simulator)
    discovered = run(app, "discover_devices", {"site_id": site_id})
    assert discovered.status == "succeeded", discovered.error
    assert discovered.summary == {"targets": 3, "found": 3, "new": 3, "unreadable": 0, "conflicts": 0,
                                  "moved": 0}
    assert discovered.attempts == 1 and discovered.started_at and discovered.finished_at

    refreshed = run(app, "refresh_points", {"site_id": site_id})
    assert refreshed.status == "succeeded", refreshed.error
    assert refreshed.summary["points"] == 36 and refreshed.summary["new_points"] == 36

    collected = run(app, "collect_readings", {"site_id": site_id})
    assert collected.status == "succeeded", collected.error
    assert collected.summary["readings"] == 36 and collected.summary["devices_failed"] == 0

    with app.app_context():
        devices = db.session.execute(db.select(Device).order_by(Device.device_instance)).scalars().all()
        assert [(d.device_instance, d.name, d.status) for d in devices] == [
            (2001, "AHU-1", "online"), (2002, "VAV-1", "online"), (2003, "VAV-2", "online")]
        assert devices[0].model_name == "SimAHU 3000" and devices[0].segmentation == "segmented-both"
        zone = db.session.execute(db.select(Point).where(Point.name == "VAV-1 Zone Temp")).scalar_one()
        assert zone.units == "degrees-celsius" and zone.polling_enabled
        assert 19 < zone.last_value < 24 and zone.last_read_at is not None
        assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 36


def test_discover_with_refresh_in_one_job(app, simulator, local_worker):
    site_id = make_site(app, simulator)
    job = run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    assert job.status == "succeeded"
    assert job.summary["found"] == 3 and job.summary["new_points"] == 36


def test_points_stay_unpolled_unless_the_site_says_so(app, simulator, local_worker):
    site_id = make_site(app, simulator)
    with app.app_context():
        db.session.get(Site, site_id).poll_new_points = False
        db.session.commit()
    run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    collected = run(app, "collect_readings", {"site_id": site_id})
    assert collected.summary["points"] == 0 and collected.summary["readings"] == 0


def test_stopped_device_goes_offline_and_the_others_keep_coming(app, simulator, local_worker):
    site_id = make_site(app, simulator)
    run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    simulator.device(2002).set_answering(False)
    for _ in range(OFFLINE_AFTER_FAILURES):
        job = run(app, "collect_readings", {"site_id": site_id})
        # The others' readings are stored: the job is partial, names the silent device, and is
        # not retried (that would read the healthy devices twice).
        assert (job.status, job.attempts) == ("partial", 1)
        assert job.summary["devices_failed"] == 1 and job.summary["readings"] == 24
        label = f"2002 ({simulator.addresses[1]})"
        reason = "ReadPropertyMultiple of 12 properties: no answer within 1 s"
        assert job.summary["failed_devices"] == {label: reason}, job.summary
        assert job.error == f"{label}: {reason}"
    with app.app_context():
        dead = db.session.execute(db.select(Device).where(Device.device_instance == 2002)).scalar_one()
        assert dead.status == "offline" and "no answer within 1 s" in dead.last_error
        assert dead.next_retry_at > utcnow()
    # Backed off: the next cycle does not wait for it at all.
    job = run(app, "collect_readings", {"site_id": site_id})
    assert job.status == "succeeded" and job.error == ""
    assert job.summary["devices_skipped"] == 1 and job.summary["devices_failed"] == 0
    # It comes back: once due again, one answer makes it online.
    simulator.device(2002).set_answering(True)
    with app.app_context():
        db.session.execute(db.update(Device).where(Device.device_instance == 2002)
                           .values(next_retry_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    job = run(app, "collect_readings", {"site_id": site_id})
    assert job.summary["devices_failed"] == 0 and job.summary["readings"] == 36
    with app.app_context():
        back = db.session.execute(db.select(Device).where(Device.device_instance == 2002)).scalar_one()
        assert back.status == "online" and back.consecutive_failures == 0 and back.next_retry_at is None


def test_a_job_that_cannot_run_is_failed_with_its_reason(app, simulator, local_worker):
    with app.app_context():
        site = Site(name="Empty")
        db.session.add(site)
        db.session.commit()
        site_id = site.id
    job = run(app, "discover_devices", {"site_id": site_id})
    assert job.status == "failed"
    # A job that cannot work as asked is not retried (discovery retries other failures once).
    assert job.attempts == 1
    assert job.error == "JobError: site 'Empty' has no discovery targets: add addresses to the site first"


def test_a_redelivered_message_of_a_finished_job_is_skipped(app, simulator, local_worker):
    site_id = make_site(app, simulator)
    run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    first = run(app, "collect_readings", {"site_id": site_id})
    # At-least-once delivery: the same message arrives again.
    local_worker.broker.enqueue(dramatiq.Message(
        queue_name="bacnet", actor_name="collect_readings", args=(), kwargs={"site_id": site_id}, options={},
        message_id=first.message_id, message_timestamp=0))
    local_worker.broker.join("bacnet")
    with app.app_context():
        again = db.session.get(JobRun, first.id)
        assert again.status == "succeeded" and again.attempts == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 36
