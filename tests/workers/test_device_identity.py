"""A known device is never moved by an I-Am from another address (loopback simulated devices).

The impostor is a second simulated device with the victim's instance on another loopback
address; a broadcast discovery reaches both. The victim keeps its address and its data, the
conflict is on the device, and the next collection reads the victim, not the impostor.
"""

from __future__ import annotations

import pytest

from app.device_identity import POLLING_HELD, dismiss_conflict
from app.extensions import db
from app.models import Device, Reading, Site
from app.transport import enqueue
from bacnet.simulator.runner import Simulator
from tests.conftest import randomly_numbered_devices
from tests.helpers import wait_for_job


@pytest.fixture
def devices(loopback_block):
    with randomly_numbered_devices(loopback_block, points=2) as sim:
        yield sim


@pytest.fixture
def impostor(devices, loopback_block):
    """The first device's instance again, at 127.0.<block>.20."""
    sim = Simulator(1, 2, base_address=f"127.0.{loopback_block}.20", first_instance=devices.instance)
    sim.start()
    yield sim
    sim.stop()


def run(app, actor: str, kwargs: dict):
    with app.app_context():
        job_id = enqueue(actor, kwargs, triggered_by="cli").id
    job = wait_for_job(app, job_id)
    assert job.status == "succeeded", job.error
    return job


def known_site(app, devices, *, follow: bool = False) -> int:
    """A site whose devices were discovered and refreshed at their addresses; the victim renamed,
    so any answer applied to it shows."""
    with app.app_context():
        site = Site(name="Identity", discovery_targets="\n".join(devices.addresses), poll_new_points=True,
                    follow_address_changes=follow)
        db.session.add(site)
        db.session.commit()
        site_id = site.id
    run(app, "discover_devices", {"site_id": site_id, "refresh_points": True})
    with app.app_context():
        victim(app, devices).name = "Victim"
        db.session.commit()
    return site_id


def victim(app, devices) -> Device:
    return db.session.execute(db.select(Device).where(Device.device_instance == devices.instance)).scalar_one()


def broadcast_for(devices) -> dict:
    return {"broadcast": True, "low_limit": devices.instance, "high_limit": devices.instance, "timeout": 0.8}


def test_an_impostor_while_the_device_is_silent_is_a_conflict_and_collections_read_the_device(
        app, devices, impostor, local_worker):
    site_id = known_site(app, devices)
    devices.device(devices.instance).set_answering(False)
    job = run(app, "discover_devices", {"site_id": site_id, **broadcast_for(devices)})
    assert (job.summary["conflicts"], job.summary["moved"], job.summary["new"]) == (1, 0, 0)
    with app.app_context():
        device = victim(app, devices)
        assert device.address == devices.addresses[0] and device.name == "Victim"
        assert device.conflict_address == impostor.addresses[0] and device.conflict_seen_at is not None
        assert (f"answered from {impostor.addresses[0]} in discovery job {job.id}" in device.conflict_detail
                and "not moved" in device.conflict_detail and "\n" not in device.conflict_detail)

    devices.device(devices.instance).set_answering(True)
    asked_before = impostor.devices[0].requests.total
    collected = run(app, "collect_readings", {"site_id": site_id})
    assert collected.summary["devices_failed"] == 0
    assert impostor.devices[0].requests.total == asked_before  # not one request went to the impostor
    with app.app_context():
        device = victim(app, devices)
        stored = db.session.scalar(db.select(db.func.count()).select_from(Reading).join(Reading.point)
                                   .where(Reading.point.has(device_id=device.id)))
        assert stored == 2
        assert device.conflict_address == impostor.addresses[0]  # until an admin decides


def test_two_addresses_answering_for_a_known_instance_flag_it_and_the_stored_one_wins(
        app, devices, impostor, local_worker):
    site_id = known_site(app, devices)
    job = run(app, "discover_devices", {"site_id": site_id, **broadcast_for(devices)})
    assert (job.summary["conflicts"], job.summary["moved"]) == (1, 0)
    with app.app_context():
        device = victim(app, devices)
        # Updated from the answer at its own address (the name comes back), flagged for the other.
        assert device.address == devices.addresses[0] and device.name == "AHU-1"
        assert device.conflict_address == impostor.addresses[0]
        assert "also answered" in device.conflict_detail and "share the instance" in device.conflict_detail


def test_a_site_that_follows_address_changes_moves_the_device_and_says_so(app, devices, impostor, local_worker):
    site_id = known_site(app, devices, follow=True)
    devices.device(devices.instance).set_answering(False)
    job = run(app, "discover_devices", {"site_id": site_id, **broadcast_for(devices)})
    assert (job.summary["conflicts"], job.summary["moved"]) == (0, 1)
    with app.app_context():
        device = victim(app, devices)
        assert device.address == impostor.addresses[0] and device.conflict_address is None
        assert device.conflict_detail.startswith(
            f"moved from {devices.addresses[0]} to {impostor.addresses[0]} in discovery job {job.id}")


def test_a_new_instance_answering_from_two_addresses_is_created_at_the_asked_one_and_flagged(
        app, devices, impostor, local_worker):
    with app.app_context():
        site = Site(name="New", discovery_targets=f"{devices.addresses[0]}\nbroadcast")
        db.session.add(site)
        db.session.commit()
        site_id = site.id
    job = run(app, "discover_devices", {"site_id": site_id, "low_limit": devices.instance,
                                        "high_limit": devices.instance, "timeout": 0.8})
    assert (job.summary["new"], job.summary["conflicts"]) == (1, 1)
    with app.app_context():
        device = victim(app, devices)
        assert device.address == devices.addresses[0] and device.conflict_address == impostor.addresses[0]
        # Nothing tells the real controller from the impostor on a first discovery: no values are
        # collected from either until an admin picks the address, which turns polling on.
        assert device.polling_enabled is False and POLLING_HELD in device.conflict_detail
        dismiss_conflict(device, by="tester")
        assert device.polling_enabled is True and device.conflict_address is None
