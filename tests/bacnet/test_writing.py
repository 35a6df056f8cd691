"""Writes, relinquish and the priority array against a simulated device; values refused before sending."""

import asyncio

import pytest
from bacpypes3.primitivedata import Real

from bacnet.types import DeviceTarget
from bacnet.writing import WriteError, _wire_value, check_priority, write_present_value


@pytest.fixture
def ahu(simulator):
    return DeviceTarget(simulator.addresses[0], 2001, 1476, "segmented-both")


def test_write_and_relinquish_a_setpoint(engine, ahu):
    setpoint = ("analog-value", 1)  # AHU-1 Supply Air Temp Setpoint, relinquish default 13.0
    written = engine.write(ahu, setpoint, 15.5, 10)
    assert written.ok, written.error
    assert written.old_value.number == 13.0 and written.new_value.number == 15.5
    assert written.priority_array[9].number == 15.5
    assert [i + 1 for i, slot in enumerate(written.priority_array) if slot is not None] == [10]
    assert engine.priority_array(ahu, setpoint)[9].number == 15.5

    # A higher priority wins while it is set...
    assert engine.write(ahu, setpoint, 14.0, 8).new_value.number == 14.0
    # ...and relinquishing it falls back to the next active priority, then to the default.
    assert engine.write(ahu, setpoint, None, 8).new_value.number == 15.5
    released = engine.write(ahu, setpoint, None, 10)
    assert released.ok and released.relinquish
    assert released.new_value.number == 13.0
    assert all(slot is None for slot in released.priority_array)


def test_write_a_binary_command(engine, ahu):
    command = ("binary-value", 2)  # AHU-1 Supply Fan Command
    outcome = engine.write(ahu, command, "off", 12)
    assert outcome.ok, outcome.error
    assert (outcome.old_value.text, outcome.new_value.text) == ("active", "inactive")
    assert engine.write(ahu, command, None, 12).new_value.text == "active"


@pytest.mark.parametrize("ref, value, fragment", [
    (("analog-value", 1), "warm", "'warm' is not a number"),
    (("binary-value", 2), 2, "2 is not a binary value"),
    (("binary-value", 2), "maybe", "'maybe' is not a binary value"),
])
def test_bad_values_are_refused_before_sending(engine, ahu, ref, value, fragment):
    outcome = engine.write(ahu, ref, value, 10)
    assert not outcome.ok and fragment in outcome.error


def test_device_errors_come_back_in_the_outcome(engine, ahu):
    outcome = engine.write(ahu, ("analog-value", 99), 1.0, 10)
    assert not outcome.ok and outcome.error == "analog-value,99 presentValue: error: unknown-object"


def test_critical_priorities_need_an_override(engine, ahu):
    refused = engine.write(ahu, ("analog-value", 1), 20.0, 5)
    assert not refused.ok and "reserved for life safety" in refused.error
    allowed = engine.write(ahu, ("analog-value", 1), 20.0, 5, allow_critical=True)
    assert allowed.ok and allowed.new_value.number == 20.0
    engine.write(ahu, ("analog-value", 1), None, 5, allow_critical=True)


@pytest.mark.parametrize("priority", [0, 17, -1])
def test_priority_range(priority):
    with pytest.raises(WriteError, match="outside 1..16"):
        check_priority(priority, allow_critical=True)


class Recorder:
    """An application that records every request instead of sending it."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def read_property(self, *args, **kwargs):
        self.requests.append("read-property")
        return Real(1.0)

    async def write_property(self, *args, **kwargs):
        self.requests.append("write-property")


@pytest.mark.parametrize("ref, value, fragment", [
    (("analog-value", 1), float("nan"), "nan is not a finite number"),
    (("analog-value", 1), float("inf"), "inf is not a finite number"),
    (("analog-value", 1), "-inf", "'-inf' is not a finite number"),
    (("analog-value", 1), "1e999", "'1e999' is not a finite number"),
    (("analog-value", 1), "NaN", "'NaN' is not a finite number"),
    (("analog-output", 1), 1e39, "out of range for a REAL"),
    (("analog-value", 1), 10 ** 400, "out of range"),
    (("analog-value", 1), True, "True is not a number"),
    (("analog-value", 1), [1.0], "[1.0] is not a number"),
    (("large-analog-value", 1), float("nan"), "not a finite number"),
    (("integer-value", 1), 2.5, "2.5 is not an integer"),
    (("integer-value", 1), 2 ** 31, "is not an integer (-2147483648..2147483647)"),
    (("positive-integer-value", 1), -1, "-1 is not a whole number"),
    (("multi-state-value", 1), float("inf"), "inf is not a state number"),
    (("multi-state-value", 1), "nan", "'nan' is not a state number"),
    (("multi-state-value", 1), 2 ** 40, "is not a state number"),
    (("multi-state-value", 1), True, "True is not a state number"),
    (("binary-value", 1), float("nan"), "nan is not a binary value"),
    (("binary-value", 1), True, "True is not a binary value"),
    (("characterstring-value", 1), 12.5, "12.5 is not text"),
])
def test_non_finite_and_foreign_values_are_refused_before_anything_is_sent(ref, value, fragment):
    app = Recorder()
    target = DeviceTarget("127.0.0.79", 7003, 1476, "segmented-both")
    outcome = asyncio.run(write_present_value(app, target, ref, value, 10, timeout=1))  # type: ignore[arg-type]
    assert not outcome.ok and fragment in outcome.error
    assert app.requests == []


@pytest.mark.parametrize("ref, value, wire", [
    (("analog-value", 1), "15.5", 15.5),
    (("analog-output", 1), -3.4e38, -3.4e38),
    (("large-analog-value", 1), 1e300, 1e300),
    (("integer-value", 1), -40.0, -40),
    (("positive-integer-value", 1), "7", 7),
    (("multi-state-value", 1), 3.0, 3),
    (("binary-value", 1), 1, "active"),
    (("characterstring-value", 1), "Occupied", "Occupied"),
])
def test_values_of_the_points_type_are_written(ref, value, wire):
    assert _wire_value(ref[0], value) == wire
