from datetime import datetime, timedelta, timezone


from app.extensions import db
from app.models import Point, Reading
from app.readings_store import store_readings
from tests.helpers import add_site_and_device


def _point(app) -> int:
    with app.app_context():
        device = add_site_and_device()
        point = Point(device_id=device.id, object_type="analog-input", object_instance=1)
        db.session.add(point)
        db.session.commit()
        return point.id


def test_duplicates_are_ignored_and_counted(any_app):
    point_id = _point(any_app)
    t0 = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=timezone.utc)
    rows = [(point_id, t0 + timedelta(seconds=i), float(i), None) for i in range(5)]
    with any_app.app_context():
        assert store_readings(rows) == 5
        db.session.commit()
        # A redelivered batch, overlapping: only the two new rows count.
        again = rows[3:] + [(point_id, t0 + timedelta(seconds=i), float(i), "x") for i in (5, 6)]
        assert store_readings(again) == 2
        db.session.commit()
        stored = db.session.execute(db.select(Reading).order_by(Reading.ts)).scalars().all()
        assert [r.value for r in stored] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        # Timestamps come back aware, in UTC, with microseconds intact.
        assert stored[0].ts == t0


def test_large_batches_are_chunked(any_app):
    point_id = _point(any_app)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with any_app.app_context():
        assert store_readings((point_id, t0 + timedelta(milliseconds=i), 1.0, None) for i in range(4500)) == 4500
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 4500


def test_nothing_to_store(app):
    with app.app_context():
        assert store_readings([]) == 0
