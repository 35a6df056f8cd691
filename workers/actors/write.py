"""write_point: command a point's present value at a priority (or relinquish it), audited."""

from __future__ import annotations

from app.extensions import db
from app.models import Point, Site
from app.write_policy import WriteRefused, audit, check_value, check_write
from workers.actors.common import JobError, load_site, target_of, value_text
from workers.context import WorkerContext
from workers.middleware import current_message_id


def write_point(context: WorkerContext, *, site_id: int, point_id: int, priority: int,
                value: float | str | None = None, requested_by: str = "unknown") -> dict:
    site: Site = load_site(site_id)
    point = db.session.get(Point, point_id)
    if point is None:
        raise JobError(f"point {point_id} does not exist")
    message_id = current_message_id()
    try:
        # Checked again here: the site or point may have changed since the request was queued,
        # and a message may come from elsewhere than the admin or the API (the gateway, a script).
        check_write(site, point, priority)
        wire_value = check_value(point, value)
    except WriteRefused as refusal:
        audit(point=point, requested_by=requested_by, priority=priority, value=value, result="refused",
              error=str(refusal), message_id=message_id)
        db.session.commit()
        raise JobError(f"write refused: {refusal}") from None
    # The site's range was checked above; a site that allows priorities below 8 did so on purpose.
    outcome = context.engine.write(target_of(point.device), (point.object_type, point.object_instance),
                                   wire_value, priority, allow_critical=True)
    audit(point=point, requested_by=requested_by, priority=priority, value=value,
          result="succeeded" if outcome.ok else "failed", error=outcome.error,
          old_value=value_text(outcome.old_value), new_value=value_text(outcome.new_value), message_id=message_id)
    if outcome.ok and outcome.new_value is not None:
        point.last_value = outcome.new_value.number
        point.last_text = outcome.new_value.text
    db.session.commit()
    if not outcome.ok:
        raise JobError(f"write failed: {outcome.error}")
    return {
        "old_value": value_text(outcome.old_value),
        "new_value": value_text(outcome.new_value),
        "priority_array": [value_text(slot) for slot in outcome.priority_array],
    }
