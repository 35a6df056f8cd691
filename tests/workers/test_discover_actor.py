"""discover_devices with every target kind, through the in-process broker, and the Site form."""

from __future__ import annotations


import pytest

from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site
from app.transport import enqueue
from tests.bacnet.apps import ROUTED_VALUES, start_routed_site
from tests.helpers import wait_for_job, wait_until
from tests.conftest import randomly_numbered_devices


def make_site(app, targets: str) -> int:
    with app.app_context():
        site = Site(name="Discovery site", discovery_targets=targets, poll_new_points=True)
        db.session.add(site)
        db.session.commit()
        return site.id


def start(app, kwargs: dict) -> int:
    with app.app_context():
        return enqueue("discover_devices", kwargs, triggered_by="cli").id


def devices_of(app, site_id: int) -> list[tuple[int, str, str]]:
    with app.app_context():
        query = db.select(Device).where(Device.site_id == site_id).order_by(Device.device_instance)
        return [(d.device_instance, d.address, d.name) for d in db.session.execute(query).scalars()]


@pytest.fixture
def random_devices(loopback_block):
    with randomly_numbered_devices(loopback_block, points=2) as sim:
        yield sim


def test_site_targets_with_a_cidr_block_are_swept(app, simulator, local_worker, loopback_block):
    site_id = make_site(app, f"127.0.{loopback_block}.0/28")
    job = wait_for_job(app, start(app, {"site_id": site_id}))
    assert job.status == "succeeded", job.error
    assert job.summary == {"targets": 1, "found": 3, "new": 3, "unreadable": 0, "conflicts": 0, "moved": 0,
                           "swept": 14}
    assert devices_of(app, site_id) == [(2001 + i, simulator.addresses[i], name)
                                        for i, name in enumerate(["AHU-1", "VAV-1", "VAV-2"])]


def test_a_running_sweep_reports_progress_on_its_job(app, simulator, local_worker, loopback_block):
    site_id = make_site(app, "")
    # 14 addresses at 5 per second: about 3 s, so the worker reports progress a few times.
    job_id = start(app, {"site_id": site_id, "ranges": [f"127.0.{loopback_block}.0/28"], "sweep_rate": 5,
                         "timeout": 0.5})

    def progress():
        with app.app_context():
            summary = db.session.get(JobRun, job_id).summary or {}
            return summary.get("progress")

    seen = wait_until(progress, timeout=10, interval=0.05)
    assert seen["total"] == 14 and 0 < seen["sent"] <= 14 and 0 <= seen["found"] <= 3
    job = wait_for_job(app, job_id)
    assert job.status == "succeeded", job.error
    assert job.summary == {"targets": 1, "found": 3, "new": 3, "unreadable": 0, "conflicts": 0, "moved": 0,
                           "swept": 14}


def test_broadcast_discovery(app, random_devices, local_worker):
    site_id = make_site(app, "")
    first = random_devices.instance
    job = wait_for_job(app, start(app, {"site_id": site_id, "broadcast": True, "low_limit": first,
                                        "high_limit": first + 2, "timeout": 1}))
    assert job.status == "succeeded", job.error
    assert job.summary == {"targets": 1, "found": 3, "new": 3, "unreadable": 0, "conflicts": 0, "moved": 0}
    assert [row[:2] for row in devices_of(app, site_id)] == [
        (first + i, address) for i, address in enumerate(random_devices.addresses)]


def test_a_routed_device_is_stored_at_its_network_mac_and_read(app, local_worker, loopback_block):
    thread, routed = start_routed_site(f"127.0.{loopback_block}.2")
    try:
        site_id = make_site(app, routed.device_address)
        job = wait_for_job(app, start(app, {"site_id": site_id, "refresh_points": True, "timeout": 4}))
        assert job.status == "succeeded", job.error
        assert devices_of(app, site_id) == [(routed.device_instance, routed.device_address,
                                             f"Routed-{routed.device_instance}")]
        with app.app_context():
            collect_id = enqueue("collect_readings", {"site_id": site_id}, triggered_by="cli").id
        collected = wait_for_job(app, collect_id)
        assert collected.status == "succeeded", collected.error
        assert collected.summary["readings"] == 2
        with app.app_context():
            rows = db.session.execute(db.select(Point.object_instance, Reading.value)
                                      .join(Reading, Reading.point_id == Point.id)
                                      .order_by(Point.object_instance)).all()
        assert [(instance, value) for instance, value in rows] == sorted(ROUTED_VALUES.items())
    finally:
        thread.stop()


def test_stored_targets_that_are_not_valid_fail_the_job_before_any_traffic(app, local_worker):
    site_id = make_site(app, "127.0.0.0/8")  # saved before the form checked ranges
    job = wait_for_job(app, start(app, {"site_id": site_id}))
    assert job.status == "failed"
    assert job.error == ("JobError: site 'Discovery site': '127.0.0.0/8' has 16777214 addresses; "
                         "a sweep may cover at most 65536 (a /16)")


def _post_site(admin_client, targets: str):
    return admin_client.post("/admin/site/new/", data={
        "name": "Swept", "discovery_targets": targets, "transport": "", "description": "", "queue_name": "",
        "gateway_url": ""})


def test_site_form_accepts_every_target_kind(app, admin_client):
    response = _post_site(admin_client, "192.0.2.20\n2001:12\n192.0.2.0/28\n198.18.0.10-198.18.0.40\nbroadcast")
    assert response.status_code == 302
    with app.app_context():
        site = db.session.execute(db.select(Site)).scalar_one()
        assert site.target_list() == ["192.0.2.20", "2001:12", "192.0.2.0/28", "198.18.0.10-198.18.0.40",
                                      "broadcast"]


@pytest.mark.parametrize("targets, message", [
    ("192.0.0.0/8", b"a sweep may cover at most 65536"),
    ("198.18.0.40-198.18.0.10", b"the range ends before it starts"),
])
def test_site_form_refuses_absurd_ranges(app, admin_client, targets, message):
    response = _post_site(admin_client, targets)
    assert response.status_code == 200 and message in response.data
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Site)) == 0
