"""A site with hostile devices next to healthy ones, on PostgreSQL and SQLite (issue 12).

The hostile simulator profile (bacnet/simulator/hostile.py) runs once for the module: healthy
controllers, then devices serving NUL-padded, 300-character and control-character strings,
NaN/Infinity and an 1100-bit present value, a wrong-service answer, oversized object lists, a
duplicated instance and an impostor. Discovery, refresh and collection run through the real
actors, a real worker and engine on loopback, as a site would run them. What must hold:

- the healthy devices' data are complete: every device, every point, every reading;
- what the hostile devices sent is stored clean (no NUL, control or bidi characters, within the
  columns), non-finite numbers as the texts "NaN"/"Infinity"/"-Infinity", an unrepresentable
  number as the point error "value out of range";
- what cannot be stored is refused with a reason: the oversized object lists on the job
  ("partial", one line per device) and on the device; the duplicated instance and the impostor
  as address conflicts, the device never moved.
"""

from __future__ import annotations

import math
import random
import re
import resource
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.extensions import db
from app.models import Device, Point, Reading, Site
from app.transport import enqueue
from bacnet.answers import WRONG_SERVICE
from bacnet.limits import DESCRIPTION_MAX, NAME_MAX, TEXT_MAX
from bacnet.simulator.hostile import (
    CONTROL_DEVICE_NAME, HUGE_OBJECT_LIST, IMPOSTOR_VALUE, LONG_DESCRIPTION, LONG_NAME, LONG_OBJECT_LIST,
    LONG_POINT_NAME, LONG_TEXT_VALUE, OVERSIZED_UNSIGNED, HostileSite)
from tests.conftest import next_loopback_block
from tests.helpers import in_process_worker, wait_for_job

#: Points of each healthy device (and of the twins and the impostor, which copy a VAV box).
HEALTHY_POINTS = 6
#: What the engine must never store: C0 and C1 controls, DEL, bidi controls and marks.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Address space a test may add to the process. A collector that believed the 4294967295-entry
#: object list would allocate until the machine's OOM killer stepped in; with this ceiling it
#: fails the test with a MemoryError instead.
ADDRESS_SPACE_HEADROOM = 4 << 30


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileSite]:
    """The hostile site, started once for the module, at random instances (a broadcast
    discovery of another test never finds it, nor it theirs)."""
    first = random.randrange(100_000, 4_000_000)
    site = HostileSite(3, HEALTHY_POINTS, base_address=f"127.0.{next_loopback_block()}.10", first_instance=first)
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def worker(any_app, loopback_block):
    """An in-process worker for ``any_app`` with its BACnet socket on 127.0.<block>.1:47809."""
    with in_process_worker(any_app, loopback_block) as service:
        yield service


@contextmanager
def address_space_ceiling(headroom: int = ADDRESS_SPACE_HEADROOM) -> Iterator[None]:
    """Limit this process's address space to what it uses now plus ``headroom`` (Linux)."""
    try:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        yield  # not Linux: no ceiling
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = used + headroom if hard == resource.RLIM_INFINITY else min(used + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# -- helpers ---------------------------------------------------------------------------------------


def run(app, actor: str, **kwargs):
    with app.app_context():
        job_id = enqueue(actor, kwargs, triggered_by="cli").id
    return wait_for_job(app, job_id, timeout=60)


def label(device) -> str:
    """How a job names a device in ``failed_devices`` and its error lines."""
    return f"{device.instance} ({device.address})"


def assert_clean(text: str | None, limit: int | None = None, what: str = "") -> None:
    if text is None:
        return
    assert not FORBIDDEN.search(text), f"{what}: {ascii(text)}"
    if limit is not None:
        assert len(text) <= limit, f"{what}: {len(text)} characters"


def device_rows(app) -> dict[int, list[Device]]:
    with app.app_context():
        rows: dict[int, list[Device]] = {}
        for device in db.session.execute(db.select(Device).order_by(Device.id)).scalars():
            db.session.expunge(device)
            rows.setdefault(device.device_instance, []).append(device)
        return rows


def points_by_device(app) -> dict[int, dict[tuple[str, int], Point]]:
    """Points by device instance and object."""
    with app.app_context():
        out: dict[int, dict[tuple[str, int], Point]] = {}
        query = db.select(Point, Device.device_instance).join(Device, Device.id == Point.device_id)
        for point, instance in db.session.execute(query):
            db.session.expunge(point)
            out.setdefault(instance, {})[(point.object_type, point.object_instance)] = point
        return out


def readings_by_device(app) -> dict[int, dict[tuple[str, int], list[tuple[float | None, str | None]]]]:
    """(value, text) of every reading, by device instance and object."""
    with app.app_context():
        out: dict[int, dict[tuple[str, int], list]] = {}
        query = (db.select(Device.device_instance, Point.object_type, Point.object_instance, Reading.value,
                           Reading.text)
                 .join(Point, Point.id == Reading.point_id).join(Device, Device.id == Point.device_id))
        for instance, object_type, object_instance, value, text in db.session.execute(query):
            out.setdefault(instance, {}).setdefault((object_type, object_instance), []).append((value, text))
        return out


# -- the site ---------------------------------------------------------------------------------------


def check_discovery(app, hostile: HostileSite, job) -> None:
    assert job.status == "succeeded", job.error
    rows = device_rows(app)
    roles = hostile.roles
    # One row per instance: the healthy devices, seven hostile ones and the twins' one instance.
    expected = {device.instance for device in hostile.devices}
    assert set(rows) == expected and all(len(found) == 1 for found in rows.values())
    stored = {instance: found[0] for instance, found in rows.items()}
    for sim in hostile.healthy:
        device = stored[sim.instance]
        assert (device.name, device.address, device.status) == (sim.name, sim.address, "online")
        assert device.model_name == sim.profile.model_name and device.conflict_address is None
    # The impostor told on the victim's Who-Is, 0.2 s before the victim answered: a directed
    # discovery hears only the addresses it asked.
    assert stored[hostile.victim.instance].address == hostile.victim.address
    for device in stored.values():
        for field in ("name", "vendor_name", "model_name", "firmware_revision", "application_software_version"):
            assert_clean(getattr(device, field), NAME_MAX, f"device {device.device_instance} {field}")
    nul = stored[roles["nul-strings"].instance]
    assert (nul.name, nul.vendor_name, nul.model_name, nul.firmware_revision,
            nul.application_software_version) == ("AHU", "Old Controls", "NX-2", "2.1", "v7")
    long = stored[roles["long-strings"].instance]
    for text in (long.name, long.vendor_name, long.model_name, long.firmware_revision,
                 long.application_software_version):
        assert LONG_NAME.startswith(text) and len(text) >= NAME_MAX - 2, text
    control = stored[roles["control-chars"].instance]
    # The override is gone and the terminal-title sequence (ESC ] 0;owned BEL) is removed whole.
    assert control.name == "Plant room 1-UHA", control.name
    assert control.name != CONTROL_DEVICE_NAME and control.vendor_name.startswith("Boiler")
    # Two controllers with one instance: one row at one of them, the other as an address conflict.
    twin_a, twin_b = roles["twin-a"], roles["twin-b"]
    twin = stored[twin_a.instance]
    assert {twin.address, twin.conflict_address} == {twin_a.address, twin_b.address}
    assert twin.conflict_address in twin.conflict_detail and twin.conflict_seen_at is not None


def check_refresh(app, hostile: HostileSite, job) -> None:
    roles = hostile.roles
    huge, long_list = roles["huge-object-list"], roles["long-object-list"]
    # The oversized object lists are refused for their devices; everything else is stored.
    assert job.status == "partial", job.error
    assert set(job.summary["failed_devices"]) == {label(huge), label(long_list)}
    lines = job.error.splitlines()
    assert len(lines) == 2, job.error
    for sim, length in ((huge, HUGE_OBJECT_LIST), (long_list, LONG_OBJECT_LIST)):
        line = next(line for line in lines if line.startswith(label(sim) + ": "))
        assert str(length) in line and "BACNET_MAX_OBJECTS" in line, line
    assert not re.search(r"\b(SELECT|INSERT|UPDATE)\b", job.error)
    rows = {instance: found[0] for instance, found in device_rows(app).items()}
    for sim, length in ((huge, HUGE_OBJECT_LIST), (long_list, LONG_OBJECT_LIST)):
        assert str(length) in rows[sim.instance].last_error and "BACNET_MAX_OBJECTS" in rows[sim.instance].last_error

    points = points_by_device(app)
    assert huge.instance not in points and long_list.instance not in points
    # Every healthy device has every point, under the names it serves.
    for sim in [*hostile.healthy, roles["twin-a"]]:
        stored_names = sorted(point.name for point in points[sim.instance].values())
        assert len(stored_names) == HEALTHY_POINTS, stored_names
        assert all(name.startswith("VAV-twin") if sim.role == "twin-a" else name.startswith(sim.name + " ")
                   for name in stored_names), stored_names
    for instance, device_points in points.items():
        for point in device_points.values():
            what = f"device {instance} point {point.object_type},{point.object_instance}"
            assert_clean(point.name, NAME_MAX, what + " name")
            assert_clean(point.description, DESCRIPTION_MAX, what + " description")
            assert_clean(point.units, 64, what + " units")
    nul = points[roles["nul-strings"].instance]
    assert nul[("analog-input", 1)].name == "Zone Temp" and nul[("characterstring-value", 1)].name == "Mode"
    assert nul[("analog-input", 1)].description.replace(" ", "") == "Zonetemperature"
    long = points[roles["long-strings"].instance]
    assert len(long) == 3
    assert LONG_POINT_NAME.startswith(long[("analog-input", 1)].name)
    assert len(long[("analog-input", 1)].name) >= NAME_MAX - 2
    assert LONG_DESCRIPTION.startswith(long[("analog-input", 1)].description)
    assert len(long[("analog-input", 1)].description) >= DESCRIPTION_MAX - 2
    control = points[roles["control-chars"].instance]
    assert control[("analog-input", 1)].name.startswith("Pump") and "hidden" in control[("analog-input", 1)].name
    assert control[("analog-input", 2)].name.startswith("Boiler")
    odd = points[roles["odd-numbers"].instance]
    assert sorted(odd) == [("analog-input", 1), ("analog-input", 2), ("analog-input", 3), ("analog-value", 1),
                           ("positive-integer-value", 1)]
    assert odd[("positive-integer-value", 1)].value_type == "unsigned"
    assert sorted(points[roles["wrong-service"].instance]) == [("analog-input", 1), ("analog-value", 1)]


def check_collection(app, hostile: HostileSite, job) -> None:
    roles = hostile.roles
    # Per-point errors (an unrepresentable number, a wrong-service answer) fail no device.
    assert job.status == "succeeded", job.error
    assert job.summary["devices_failed"] == 0 and job.summary["point_errors"] == 2, job.summary
    readings = readings_by_device(app)
    points = points_by_device(app)
    # The twins' instance was first found at two addresses: its polling is held until an admin
    # picks the address, so nothing is read from either twin.
    twin = roles["twin-a"].instance
    assert twin not in readings and points[twin]
    # One reading for every point of every other device but the two with a point error.
    assert job.summary["readings"] == sum(len(device_points) for instance, device_points in points.items()
                                          if instance != twin) - 2
    # Healthy: one finite reading per point, every point. The victim's are its own, not the impostor's.
    for sim in hostile.healthy:
        device_readings = readings[sim.instance]
        assert set(device_readings) == set(points[sim.instance])
        for ref, values in device_readings.items():
            assert len(values) == 1 and values[0][0] is not None and math.isfinite(values[0][0]), (ref, values)
    assert all(value != IMPOSTOR_VALUE for values in readings[hostile.victim.instance].values()
               for value, _ in values)
    for instance, device_readings in readings.items():
        for ref, values in device_readings.items():
            for value, text in values:
                assert value is None or math.isfinite(value), (instance, ref, value)
                assert_clean(text, TEXT_MAX, f"device {instance} {ref} reading text")
                assert text != "null", (instance, ref)  # nothing here serves a BACnet Null

    def only(instance: int, ref: tuple[str, int]) -> tuple[float | None, str | None]:
        values = readings[instance][ref]
        assert len(values) == 1, values
        return values[0]

    nul = roles["nul-strings"].instance
    assert only(nul, ("analog-input", 1)) == (21.0, None)
    assert only(nul, ("characterstring-value", 1)) == (None, "occupied")
    long = roles["long-strings"].instance
    value, text = only(long, ("characterstring-value", 1))
    assert value is None and LONG_TEXT_VALUE.startswith(text) and len(text) >= TEXT_MAX - 2
    control = roles["control-chars"].instance
    value, text = only(control, ("characterstring-value", 1))
    assert value is None and text.startswith("ALARM") and text.endswith("cleared"), ascii(text)

    odd = roles["odd-numbers"]
    assert only(odd.instance, ("analog-input", 1)) == (21.5, None)
    assert only(odd.instance, ("analog-input", 2)) == (None, "NaN")
    assert only(odd.instance, ("analog-input", 3)) == (None, "-Infinity")
    assert only(odd.instance, ("analog-value", 1)) == (None, "Infinity")
    assert ("positive-integer-value", 1) not in readings[odd.instance]
    counter = points[odd.instance][("positive-integer-value", 1)]
    assert "value out of range" in counter.last_error and counter.last_value is None
    nan_point = points[odd.instance][("analog-input", 2)]
    assert (nan_point.last_value, nan_point.last_text) == (None, "NaN")
    assert str(OVERSIZED_UNSIGNED)[:20] not in counter.last_error  # a reason, not the number

    wrong = roles["wrong-service"].instance
    assert only(wrong, ("analog-input", 1)) == (19.5, None)
    assert ("analog-value", 1) not in readings[wrong]  # a SimpleACK is no value, not even "null"
    assert WRONG_SERVICE in points[wrong][("analog-value", 1)].last_error, "the SimpleACK was not matched by service"

    rows = {instance: found[0] for instance, found in device_rows(app).items()}
    assert rows[odd.instance].status == "online" and rows[wrong].status == "online"


def check_impostor_after_broadcast(app, hostile: HostileSite, job) -> None:
    """A broadcast finds the impostor too: recorded as a conflict on the victim, never followed."""
    assert job.status == "succeeded", job.error  # a conflict is recorded, it is no failure
    victim = device_rows(app)[hostile.victim.instance][0]
    assert victim.address == hostile.victim.address
    assert victim.conflict_address == hostile.impostor.address, victim.conflict_detail
    assert hostile.impostor.address in victim.conflict_detail and victim.conflict_seen_at is not None
    assert_clean(victim.conflict_detail, None, "conflict detail")


def test_a_hostile_site_leaves_the_healthy_devices_complete_and_its_own_data_clean(any_app, worker, hostile):
    with any_app.app_context():
        site = Site(name="Hostile site", discovery_targets="\n".join(hostile.targets), poll_new_points=True)
        db.session.add(site)
        db.session.commit()
        site_id = site.id

    check_discovery(any_app, hostile, run(any_app, "discover_devices", site_id=site_id, timeout=1))
    with address_space_ceiling():
        refreshed = run(any_app, "refresh_points", site_id=site_id)
    check_refresh(any_app, hostile, refreshed)
    check_collection(any_app, hostile, run(any_app, "collect_readings", site_id=site_id))

    # Now a broadcast: the impostor answers for the victim's instance from its own address.
    first = min(device.instance for device in hostile.devices)
    last = max(device.instance for device in hostile.devices)
    broadcast = run(any_app, "discover_devices", site_id=site_id, broadcast=True, low_limit=first,
                    high_limit=last, timeout=0.8)
    check_impostor_after_broadcast(any_app, hostile, broadcast)
    # The next collection still reads the victim at its own address.
    again = run(any_app, "collect_readings", site_id=site_id)
    assert again.status == "succeeded", again.error
    victim_readings = readings_by_device(any_app)[hostile.victim.instance]
    assert all(len(values) == 2 for values in victim_readings.values())
    assert all(value != IMPOSTOR_VALUE for values in victim_readings.values() for value, _ in values)
