"""app.readings_store's bulk statements store exactly what the ORM would, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from app.extensions import db
from app.models import Point, Reading
from app.readings_store import store_readings, update_points
from tests.helpers import add_site_and_device


def _points(app, count: int) -> list[int]:
    with app.app_context():
        device = add_site_and_device()
        points = [Point(device_id=device.id, object_type="analog-input", object_instance=i, last_error="old")
                  for i in range(count)]
        db.session.add_all(points)
        db.session.commit()
        return [point.id for point in points]


def test_timestamps_match_what_the_orm_stores_and_queries(any_app):
    [point_id] = _points(any_app, 1)
    # A whole second: the form where naive text formatting would drop the microseconds.
    t0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)
    with any_app.app_context():
        assert store_readings([(point_id, t0, 1.0, None), (point_id, t0 + timedelta(microseconds=5), 2.0, "x")]) == 2
        db.session.add(Reading(point_id=point_id, ts=t0 + timedelta(seconds=1), value=3.0))
        db.session.commit()
        # ORM-built comparisons and ordering see the bulk rows exactly like ORM-written ones.
        assert db.session.execute(db.select(Reading.value).where(Reading.ts == t0)).scalar_one() == 1.0
        ordered = db.session.execute(db.select(Reading.value).order_by(Reading.ts)).scalars().all()
        assert ordered == [1.0, 2.0, 3.0]
        assert db.session.execute(db.select(Reading).where(Reading.ts > t0)).scalars().all()[0].text == "x"


def test_update_points_records_values_and_errors(any_app):
    first, second, third = _points(any_app, 3)
    ts = datetime(2026, 11, 27, 12, 0, 0, 250000, tzinfo=timezone.utc)
    with any_app.app_context():
        update_points([(first, ts, 21.5, None), (second, ts, 1.0, "active")], [(third, "error: unknown-object")])
        db.session.commit()
        rows = {point.id: point for point in db.session.execute(db.select(Point)).scalars()}
        assert (rows[first].last_value, rows[first].last_text, rows[first].last_error) == (21.5, None, "")
        assert rows[first].last_read_at == ts
        assert (rows[second].last_value, rows[second].last_text) == (1.0, "active")
        assert (rows[third].last_error, rows[third].last_value, rows[third].last_read_at) == (
            "error: unknown-object", None, None)
        # Still comparable from the ORM side.
        assert db.session.execute(db.select(db.func.count()).select_from(Point)
                                  .where(Point.last_read_at == ts)).scalar() == 2


def test_nothing_to_write_is_a_no_op(any_app):
    with any_app.app_context():
        assert store_readings([]) == 0
        update_points([], [])
