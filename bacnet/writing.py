"""Commanding a point: WriteProperty of present-value at a priority, relinquish, priority array.

The engine only performs the write and reports everything an audit needs (value before, value
after, the priority array). Whether a write is *allowed* is decided above it (app.write_policy),
except for the hard floor on priorities 1..7 (life safety and critical equipment), which the
callers must ask for explicitly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bacpypes3.app import Application
from bacpypes3.primitivedata import Null

from bacnet.address import to_bacpypes
from bacnet.errors import BACnetError
from bacnet.guard import check_answer, guarded
from bacnet.limits import INTEGER_MAX, INTEGER_MIN, REAL_MAX, UNSIGNED_MAX
from bacnet.properties import object_identifier, read_property
from bacnet.types import DeviceTarget, ObjectRef, Value
from bacnet.values import OUT_OF_RANGE, ValueRangeError, to_value

#: BACnet priorities run 1 (manual life safety) .. 16 (lowest).
MIN_PRIORITY, MAX_PRIORITY = 1, 16
#: Priorities below this number are reserved for life safety and critical equipment control.
FIRST_ORDINARY_PRIORITY = 8


class WriteError(BACnetError):
    """A write could not be made (bad value for the object type, bad priority)."""


@dataclass
class WriteOutcome:
    """What happened, with everything an audit record needs."""

    target: DeviceTarget
    ref: ObjectRef
    priority: int
    #: The value written, or None for a relinquish.
    value: float | str | None
    old_value: Value | None = None
    new_value: Value | None = None
    #: The priority array after the write: 16 entries, None where the slot is empty.
    priority_array: list[Value | None] = field(default_factory=list)
    ok: bool = False
    error: str = ""
    elapsed: float = 0.0

    @property
    def relinquish(self) -> bool:
        return self.value is None


def check_priority(priority: int, *, allow_critical: bool = False) -> None:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise WriteError(f"priority {priority} is outside {MIN_PRIORITY}..{MAX_PRIORITY}")
    if priority < FIRST_ORDINARY_PRIORITY and not allow_critical:
        raise WriteError(f"priority {priority} is reserved for life safety and critical equipment "
                         f"(1..{FIRST_ORDINARY_PRIORITY - 1}); it needs an explicit override")


#: Object types whose present value is a REAL (single precision), DOUBLE, INTEGER or UNSIGNED.
REAL_TYPES = frozenset({"analog-input", "analog-output", "analog-value", "loop", "pulse-converter"})
DOUBLE_TYPES = frozenset({"large-analog-value"})
INTEGER_TYPES = frozenset({"integer-value"})
UNSIGNED_TYPES = frozenset({"positive-integer-value", "accumulator"})


def _number(value: float | str) -> float:
    """``value`` as a finite float; WriteError for text that is no number, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise WriteError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WriteError(f"{value!r} is not a number") from None
    except OverflowError:  # an int beyond float64
        raise WriteError(f"{value!r} is out of range") from None
    if not math.isfinite(number):
        # "nan", "inf" and "1e999" parse as floats; a device must never be commanded to them.
        raise WriteError(f"{value!r} is not a finite number")
    return number


def _whole(value: float | str, low: int, high: int, what: str) -> int:
    number = _number(value)
    if number != int(number) or not low <= number <= high:
        raise WriteError(f"{value!r} is not {what} ({low}..{high})")
    return int(number)


def _wire_value(object_type: str, value: float | str | None) -> object:
    """The value in the form bacpypes3 casts to the property's type; WriteError, before anything
    is sent, for a value that is not of the point's type or not finite."""
    if value is None:
        return Null(())
    if object_type.startswith("binary-"):
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("active", "on", "1", "true"):
                return "active"
            if text in ("inactive", "off", "0", "false"):
                return "inactive"
            raise WriteError(f"{value!r} is not a binary value (active/inactive, on/off, 1/0)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in (0, 1):
            raise WriteError(f"{value!r} is not a binary value (0 or 1)")
        return "active" if value else "inactive"
    if object_type.startswith("multi-state-"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise WriteError(f"{value!r} is not a state number")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise WriteError(f"{value!r} is not a state number") from None
        if not math.isfinite(number) or number < 1 or number > UNSIGNED_MAX or number != int(number):
            raise WriteError(f"{value!r} is not a state number (1, 2, 3, ...)")
        return int(number)
    if object_type == "characterstring-value":
        if not isinstance(value, str):
            raise WriteError(f"{value!r} is not text")
        return value
    if object_type in INTEGER_TYPES:
        return _whole(value, INTEGER_MIN, INTEGER_MAX, "an integer")
    if object_type in UNSIGNED_TYPES:
        return _whole(value, 0, UNSIGNED_MAX, "a whole number")
    number = _number(value)
    if object_type in REAL_TYPES and abs(number) > REAL_MAX:
        # Beyond single precision the device would store +/-Infinity.
        raise WriteError(f"{value!r} is out of range for a REAL (at most {REAL_MAX:.7g} in magnitude)")
    return number


def _readback(raw: object) -> Value:
    """A value read around a write, for the audit; one no float holds is shown as out of range."""
    try:
        return to_value(raw)
    except ValueRangeError:
        return Value(None, OUT_OF_RANGE)


def _priority_array(raw: object) -> list[Value | None]:
    slots: list[Value | None] = []
    for entry in raw or []:
        # A PriorityValue is a choice: exactly one of its attributes is set; `null` means empty.
        chosen = None
        for name in entry._elements if hasattr(entry, "_elements") else ():
            item = getattr(entry, name, None)
            if item is not None:
                chosen = (name, item)
                break
        if chosen is None or chosen[0] == "null":
            slots.append(None)
        else:
            slots.append(_readback(chosen[1]))
    return slots


async def read_priority_array(app: Application, target: DeviceTarget, ref: ObjectRef,
                              timeout: float) -> list[Value | None]:
    """The 16 slots of the object's priority array (None where empty)."""
    raw = await read_property(app, to_bacpypes(target.address), ref, "priorityArray", timeout)
    return _priority_array(raw)


async def write_present_value(app: Application, target: DeviceTarget, ref: ObjectRef,
                              value: float | str | None, priority: int, *, timeout: float,
                              allow_critical: bool = False) -> WriteOutcome:
    """Write (or, with ``value=None``, relinquish) present-value at ``priority`` and read back."""
    outcome = WriteOutcome(target=target, ref=ref, priority=priority, value=value)
    started = time.monotonic()
    try:
        check_priority(priority, allow_critical=allow_critical)
        wire = _wire_value(ref[0], value)
        address = to_bacpypes(target.address)
        outcome.old_value = _readback(await read_property(app, address, ref, "presentValue", timeout))
        what = f"write {ref[0]},{ref[1]} present-value @{priority}"
        answer = await guarded(app.write_property(address, object_identifier(ref), "presentValue", wire,
                                                  priority=priority), timeout, what)
        check_answer(answer, what)
        if isinstance(answer, str):  # bacpypes3 returns "-no object class-" style strings
            raise WriteError(f"{what}: {answer.strip('-')}")
        outcome.new_value = _readback(await read_property(app, address, ref, "presentValue", timeout))
        try:
            outcome.priority_array = await read_priority_array(app, target, ref, timeout)
        except BACnetError:
            outcome.priority_array = []  # a commandable object without a readable array: still written
        outcome.ok = True
    except BACnetError as error:
        outcome.error = str(error)
    outcome.elapsed = time.monotonic() - started
    return outcome
