"""Who may write what: the rules every write passes, at enqueue time and again in the worker.

Writes are off by default. A write needs a site that allows writes, a point marked writable
(commandable), and a priority inside the site's range (default 8..16). Every attempt — refused,
failed or done — leaves a WriteAudit row.
"""

from __future__ import annotations

from app.extensions import db
from app.models import Point, Site, WriteAudit

#: Shown for the value of a relinquish in audit rows and messages.
RELINQUISH = "relinquish"


class WriteRefused(Exception):
    """The write is not allowed; the message says which rule stopped it."""


def check_write(site: Site, point: Point, priority: int) -> None:
    """Raise WriteRefused unless ``point`` of ``site`` may be written at ``priority``."""
    if point.device.site_id != site.id:
        raise WriteRefused(f"point {point.id} does not belong to site {site.name!r}")
    if not site.writes_allowed:
        raise WriteRefused(f"writes are not allowed on site {site.name!r} (enable them on the site first)")
    if not point.writable:
        raise WriteRefused(f"point {point.name!r} is not writable (it has no priority array)")
    low, high = site.write_priority_min, site.write_priority_max
    if not low <= priority <= high:
        raise WriteRefused(f"priority {priority} is outside the range {low}..{high} allowed on site {site.name!r}")


def describe_target(point: Point) -> str:
    device = point.device
    return f"{device.name or device.device_instance} ({device.address}) {point.object_type},{point.object_instance}"


def audit(*, point: Point, requested_by: str, priority: int, value: float | str | None, result: str,
          error: str = "", old_value: str | None = None, new_value: str | None = None,
          message_id: str | None = None) -> WriteAudit:
    """Add an audit row to the session (the caller commits)."""
    row = WriteAudit(requested_by=requested_by[:120], point_id=point.id, target=describe_target(point)[:255],
                     priority=priority, value=None if value is None else str(value)[:255], old_value=old_value,
                     new_value=new_value, result=result, error=error[:4000], job_message_id=message_id)
    db.session.add(row)
    return row
