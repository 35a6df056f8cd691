"""read_point: one point's present value now, and its priority array when it is commandable.

The point page asks for this when it opens, so an operator sees who holds a setpoint before
writing to it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from app.extensions import db
from app.models import Point
from bacnet.errors import BACnetError
from workers.actors.common import JobError, load_site, target_of, value_text
from workers.context import WorkerContext


def read_point(context: WorkerContext, *, site_id: int, point_id: int) -> dict:
    load_site(site_id)
    point = db.session.get(Point, point_id)
    if point is None or point.device.site_id != site_id:
        raise JobError(f"point {point_id} is not a point of site {site_id}")
    target, ref = target_of(point.device), (point.object_type, point.object_instance)
    [outcome] = context.engine.read_values([(target, [ref])])
    if not outcome.ok:
        raise JobError(f"device did not answer: {outcome.device_error}")
    if ref in outcome.errors:
        point.last_error = outcome.errors[ref]
        db.session.commit()
        raise JobError(f"could not read {point.object_id}: {outcome.errors[ref]}")
    value = outcome.values[ref]
    point.last_value, point.last_text = value.number, value.text
    point.last_read_at = datetime.fromtimestamp(outcome.read_at, timezone.utc)
    point.last_error = ""
    summary: dict = {"present_value": value_text(value)}
    if point.writable:
        try:
            slots = context.engine.priority_array(target, ref)
            summary["priority_array"] = [value_text(slot) for slot in slots]
        except BACnetError as error:
            summary["priority_array_error"] = str(error)
    db.session.commit()
    return summary
