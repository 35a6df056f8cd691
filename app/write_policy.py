"""Who may write what: the rules every write passes, at enqueue time and again in the worker.

Writes are off by default. A write needs a site that allows writes, a point marked writable
(commandable), and a priority inside the site's range (default 8..16). Every attempt — refused,
failed or done — leaves a WriteAudit row.

The value must be one the point can take (:func:`check_value`): a finite number for analog points
(never NaN or an infinity, whatever its spelling: ``nan``, ``inf``, ``1e999``), 0/1 or
active/inactive for binary points, a state number for multi-state points, a whole number in range
for integer points, text for characterstring values. The admin (a form error), the API (422) and
the write actor (an audited refusal) all ask this one function; the engine checks the wire form
once more.
"""

from __future__ import annotations

import math

from app.extensions import db
from app.models import Point, Site, WriteAudit

#: Shown for the value of a relinquish in audit rows and messages.
RELINQUISH = "relinquish"
#: Largest magnitude of a BACnet REAL (IEEE-754 single): a larger double becomes +-inf on the wire.
REAL_MAX = 3.4028234663852886e38
#: Words a binary point's value may be given as (case-insensitive), and the state each means.
BINARY_WORDS = {"active": "active", "on": "active", "1": "active", "true": "active",
                "inactive": "inactive", "off": "inactive", "0": "inactive", "false": "inactive"}
#: Object types whose present value is a BACnet REAL (the rest of the numeric ones are DOUBLE
#: or integers, see _integer_range).
REAL_TYPES = ("analog-input", "analog-output", "analog-value", "loop", "pulse-converter")
#: Longest text written to a characterstring value (the catalog's limit too).
MAX_TEXT = 255


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


def _number(value: float | str) -> float:
    """``value`` as a finite float; WriteRefused otherwise (NaN, infinities, overflow, not a number)."""
    if isinstance(value, bool):
        raise WriteRefused(f"{value!r} is not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise WriteRefused(f"{str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        # "1e999" parses as inf: a device commanded to +inf is as wrong as one commanded to NaN.
        if math.isinf(number) and not isinstance(value, str):
            # A JSON 1e999 arrives here already parsed as inf: say what the user most likely sent.
            raise WriteRefused("the value is not a finite number (infinite, or too large for a float, like 1e999)")
        raise WriteRefused(f"{str(value)[:40]!r} is not a finite number")
    return number


def _integer_range(object_type: str) -> tuple[int, int] | None:
    """The whole numbers a point of this type takes, or None when it is not an integer point."""
    if object_type.startswith("multi-state-"):
        return 1, 2**32 - 1  # state numbers start at 1
    if object_type == "positive-integer-value":
        return 0, 2**32 - 1
    if object_type == "integer-value":
        return -(2**31), 2**31 - 1
    return None


def check_value(point: Point, value: float | str | None) -> float | str | None:
    """The value to command ``point`` with, normalised; WriteRefused saying why it cannot be.

    None is a relinquish and always allowed. The result is what the engine is given: "active" or
    "inactive" for binary points, a float for numeric points, the text for characterstring values.
    """
    if value is None:
        return None
    kind = point.object_type
    if kind.startswith("binary-"):
        word = BINARY_WORDS.get(value.strip().lower()) if isinstance(value, str) else None
        if word is None and not isinstance(value, str) and value in (0, 1):
            word = "active" if value == 1 else "inactive"
        if word is None:
            raise WriteRefused(f"{str(value)[:40]!r} is not a value of binary point {point.name!r} "
                               "(active/inactive, on/off, 1/0)")
        return word
    if kind == "characterstring-value":
        if not isinstance(value, str):
            raise WriteRefused(f"point {point.name!r} takes text, not the number {value!r}")
        if len(value) > MAX_TEXT:
            raise WriteRefused(f"a text value may be at most {MAX_TEXT} characters")
        return value
    number = _number(value)
    bounds = _integer_range(kind)
    if bounds is not None:
        low, high = bounds
        if number != int(number) or not low <= number <= high:
            what = "a state number (1, 2, 3, ...)" if kind.startswith("multi-state-") else \
                f"a whole number from {low} to {high}"
            raise WriteRefused(f"{str(value)[:40]!r} is not {what} for point {point.name!r}")
        return float(int(number))
    if kind in REAL_TYPES and abs(number) > REAL_MAX:
        raise WriteRefused(f"{str(value)[:40]!r} is too large for point {point.name!r} "
                           f"(a BACnet REAL holds at most {REAL_MAX:g} either way)")
    return number


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
