"""One device never fails another's discovery, refresh or collection, on PostgreSQL and SQLite.

The engine is scripted (tests/workers/fakes.py) to hand the actors what the real engine's
cleaning would never let through: NUL characters and 300-character names (PostgreSQL refuses
both), and integers no column holds (both databases refuse them). The healthy devices' data is
stored all the same; the job is "partial" (or "failed" when nothing was stored), names each
failed device with a one-line reason without SQL, and is not retried.
"""

from __future__ import annotations

from datetime import timedelta


from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site, utcnow
from app.transport import enqueue
from bacnet.errors import BACnetError
from bacnet.types import DeviceInfo, ObjectInfo, Value
from tests.helpers import wait_for_job
from tests.workers.fakes import ScriptedEngine, iam, scripted_worker

#: A vendor id / object instance / value no database column holds (SQLite: OverflowError;
#: PostgreSQL: integer or double precision out of range).
HUGE = 2**1100
AI = "analog-input"


def is_pg(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def make_site(app, instances: dict[int, str] | None = None, *, points: int = 0) -> int:
    """A site (targets: broadcast) with devices {instance: address}, each with ``points`` polled points."""
    with app.app_context():
        site = Site(name="Isolation", discovery_targets="broadcast")
        db.session.add(site)
        db.session.flush()
        for instance, address in (instances or {}).items():
            device = Device(site_id=site.id, device_instance=instance, address=address, name=f"D{instance}")
            db.session.add(device)
            db.session.flush()
            for n in range(points):
                db.session.add(Point(device_id=device.id, object_type=AI, object_instance=n, polling_enabled=True))
        db.session.commit()
        return site.id


def run(app, engine: ScriptedEngine, actor: str, kwargs: dict) -> JobRun:
    with scripted_worker(app, engine):
        with app.app_context():
            job_id = enqueue(actor, kwargs, triggered_by="cli").id
        return wait_for_job(app, job_id, timeout=20)


def assert_readable(job: JobRun, failed: set[str]) -> None:
    """The job names exactly ``failed`` (labels), one clean line each, no SQL, and ran once."""
    assert set(job.summary.get("failed_devices", {})) == failed, job.summary
    assert job.attempts == 1  # it ran: never retried (a retry would redo the healthy devices)
    lines = job.error.split("\n") if job.error else []
    assert len(lines) == len(failed), job.error
    for line in lines:
        assert line.split(": ", 1)[0] in failed
        assert len(line) < 400 and "\x00" not in line, line
        for sql in ("INSERT", "UPDATE", "SELECT", "[SQL", "[parameters"):
            assert sql not in line, line


def test_discovery_stores_every_device_the_database_accepts(any_app):
    site_id = make_site(any_app)
    engine = ScriptedEngine(found=[
        DeviceInfo(101, "127.0.0.10", name="AHU-1", vendor_id=5),
        DeviceInfo(102, "127.0.0.11", name="VAV\x00\x00\x00", vendor_id=5),
        DeviceInfo(103, "127.0.0.12", name="L" * 300, vendor_id=5),
        DeviceInfo(104, "127.0.0.13", name="Big", vendor_id=HUGE),
        (iam(105, "127.0.0.14"), BACnetError("no answer within 1 s")),
    ])
    job = run(any_app, engine, "discover_devices", {"site_id": site_id})

    refused = {"102 (127.0.0.11)", "103 (127.0.0.12)"} if is_pg(any_app) else set()
    failed = refused | {"104 (127.0.0.13)", "105 (127.0.0.14)"}
    assert job.status == "partial", job.error
    assert_readable(job, failed)
    assert job.summary["failed_devices"]["105 (127.0.0.14)"] == (
        "answered Who-Is but not the property reads: no answer within 1 s")
    assert job.summary["failed_devices"]["104 (127.0.0.13)"].startswith("could not store the device: ")
    with any_app.app_context():
        stored = {d.device_instance: d for d in db.session.execute(db.select(Device)).scalars()}
        expected = {101, 102, 103} - {int(label.split()[0]) for label in refused}
        assert set(stored) == expected and job.summary["new"] == len(expected)
        assert stored[101].name == "AHU-1" and stored[101].status == "online"


def test_a_discovery_that_stores_nothing_fails_once(any_app):
    site_id = make_site(any_app)
    engine = ScriptedEngine(found=[DeviceInfo(104, "127.0.0.13", name="Big", vendor_id=HUGE)])
    job = run(any_app, engine, "discover_devices", {"site_id": site_id})
    assert job.status == "failed"
    assert_readable(job, {"104 (127.0.0.13)"})
    with any_app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 0


def test_refresh_stores_the_points_of_every_device_the_database_accepts(any_app):
    site_id = make_site(any_app, {201: "127.0.0.20", 202: "127.0.0.21", 203: "127.0.0.22", 204: "127.0.0.23",
                                  205: "127.0.0.24"})
    engine = ScriptedEngine(points={
        "127.0.0.20": [ObjectInfo(AI, 1, name="Zone Temp", units="degrees-celsius"), ObjectInfo(AI, 2, name="RH")],
        "127.0.0.21": [ObjectInfo(AI, 1, name="Zone\x00\x00")],
        "127.0.0.22": [ObjectInfo(AI, 1, name="N" * 300)],
        # 127.0.0.23: no answer
        "127.0.0.24": [ObjectInfo(AI, 1, name="fine"), ObjectInfo(AI, HUGE, name="huge instance")],
    })
    job = run(any_app, engine, "refresh_points", {"site_id": site_id})

    refused = {"202 (127.0.0.21)", "203 (127.0.0.22)"} if is_pg(any_app) else set()
    assert job.status == "partial", job.error
    assert_readable(job, refused | {"204 (127.0.0.23)", "205 (127.0.0.24)"})
    assert job.summary["failed_devices"]["204 (127.0.0.23)"] == "point list: no answer within 1 s"
    with any_app.app_context():
        points = db.session.execute(db.select(Device.device_instance, Point.name).join(Point)).all()
        by_device: dict[int, set[str]] = {}
        for instance, name in points:
            by_device.setdefault(instance, set()).add(name)
        assert by_device.pop(201) == {"Zone Temp", "RH"}
        # 205's points are one savepoint: its storable point went with the refused one.
        assert 205 not in by_device
        assert set(by_device) == ({202, 203} - {int(label.split()[0]) for label in refused})
        unstored = db.session.execute(db.select(Device).where(Device.device_instance == 205)).scalar_one()
        # It answered: online, not backed off, and it says why its points are missing.
        assert unstored.status == "online" and unstored.consecutive_failures == 0
        assert unstored.last_error.startswith("could not store its points: ")


def test_collection_keeps_every_device_the_database_accepts(any_app):
    site_id = make_site(any_app, {301: "127.0.0.30", 302: "127.0.0.31", 303: "127.0.0.32", 304: "127.0.0.33",
                                  305: "127.0.0.34"}, points=2)
    engine = ScriptedEngine(values={
        "127.0.0.30": {(AI, 0): Value(21.5), (AI, 1): Value(1.0, "active")},
        "127.0.0.31": {(AI, 0): Value(None, "occupied\x00\x00"), (AI, 1): Value(2.0)},
        "127.0.0.32": {(AI, 0): Value(None, "T" * 300), (AI, 1): Value(3.0)},
        "127.0.0.33": {(AI, 0): Value(HUGE), (AI, 1): Value(4.0)},  # type: ignore[arg-type]
        "127.0.0.34": "no answer within 1 s",
    })
    job = run(any_app, engine, "collect_readings", {"site_id": site_id})

    pg = is_pg(any_app)
    refused = {"302 (127.0.0.31)", "303 (127.0.0.32)"} if pg else set()
    assert job.status == "partial", job.error
    assert_readable(job, refused | {"304 (127.0.0.33)", "305 (127.0.0.34)"})
    assert job.summary["failed_devices"]["305 (127.0.0.34)"] == "no answer within 1 s"
    assert job.summary["failed_devices"]["304 (127.0.0.33)"].startswith("could not store its readings: ")
    if pg:  # PostgreSQL quotes the refused value in its message: never a 332-digit parameter
        assert '"<long value>" is out of range' in job.summary["failed_devices"]["304 (127.0.0.33)"]
    assert job.summary["readings"] == (2 if pg else 6)
    assert job.summary["devices_failed"] == len(refused) + 2
    assert engine.reads == 1
    with any_app.app_context():
        rows = db.session.execute(db.select(Device.device_instance, Reading.value, Reading.text)
                                  .join(Point, Point.device_id == Device.id).join(Reading)).all()
        readings = {(instance, value, text) for instance, value, text in rows}
        assert {(301, 21.5, None), (301, 1.0, "active")} <= readings
        assert {instance for instance, _, _ in readings} == ({301} if pg else {301, 302, 303})
        devices = {d.device_instance: d for d in db.session.execute(db.select(Device)).scalars()}
        assert devices[304].status == "online" and devices[304].last_error.startswith("could not store")
        assert devices[305].consecutive_failures == 1 and "no answer" in devices[305].last_error
        healthy = db.session.execute(db.select(Point).join(Device).where(Device.device_instance == 301)
                                     .order_by(Point.object_instance)).scalars().all()
        assert [p.last_value for p in healthy] == [21.5, 1.0]
        # The summary committed with the readings is the job's (a redelivery returns it as is).
        assert db.session.get(JobRun, job.id).summary == job.summary


def test_a_collection_that_stores_nothing_fails_once(any_app):
    site_id = make_site(any_app, {304: "127.0.0.33"}, points=1)
    engine = ScriptedEngine(values={"127.0.0.33": {(AI, 0): Value(HUGE)}})  # type: ignore[arg-type]
    job = run(any_app, engine, "collect_readings", {"site_id": site_id})
    assert job.status == "failed"
    assert_readable(job, {"304 (127.0.0.33)"})
    with any_app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0


def test_a_collection_with_every_device_backed_off_is_skipped_not_succeeded(any_app):
    site_id = make_site(any_app, {305: "127.0.0.34"}, points=1)
    with any_app.app_context():
        db.session.execute(db.update(Device).where(Device.device_instance == 305)
                           .values(status="offline", next_retry_at=utcnow() + timedelta(minutes=5)))
        db.session.commit()
    job = run(any_app, ScriptedEngine(), "collect_readings", {"site_id": site_id})
    assert (job.status, job.attempts) == ("skipped", 1)
    assert job.summary["devices"] == 0 and job.summary["devices_skipped"] == 1
    assert job.error.startswith("nothing was due: all 1 polled device(s) are backed off"), job.error
