"""bacpypes3 values become ours one by one: non-finite numbers, huge integers, hostile strings."""

from __future__ import annotations

import asyncio
import math

import pytest
from bacpypes3.basetypes import BinaryPV, EngineeringUnits
from bacpypes3.primitivedata import CharacterString, Double, Integer, Null, Real, Unsigned

from bacnet.limits import DESCRIPTION_MAX, NAME_MAX, TEXT_MAX, UNITS_MAX
from bacnet.properties import DeviceProfile, PropertyError
from bacnet.reading import present_value, read_present_values
from bacnet.types import DeviceTarget, Value
from bacnet.values import ValueRangeError, real_value, to_small_int, to_text, to_value


@pytest.mark.parametrize("raw, expected", [
    (Real(12.098), Value(12.098)),
    (Real(float("nan")), Value(None, "NaN")),
    (Real(float("inf")), Value(None, "Infinity")),
    (Real(float("-inf")), Value(None, "-Infinity")),
    (Double(float("nan")), Value(None, "NaN")),
    (Double(float("-inf")), Value(None, "-Infinity")),
    (Double(1.7976931348623157e308), Value(1.797693e308)),
    (float("inf"), Value(None, "Infinity")),
    (Null(()), Value(None, "null")),
    (None, Value(None, "null")),
    (Unsigned(4294967295), Value(4294967295.0)),
    (Integer(-40), Value(-40.0)),
    (BinaryPV("active"), Value(1.0, "active")),
    (True, Value(1.0, "true")),
])
def test_numbers_convert_value_by_value(raw, expected) -> None:
    assert to_value(raw) == expected


def test_non_finite_is_not_no_value() -> None:
    # "no value" (BACnet Null) and NaN both have no number, and stay distinguishable by their text.
    assert to_value(Null(())).text == "null" != to_value(Real(float("nan"))).text
    for number in (float("nan"), float("inf"), float("-inf")):
        assert real_value(number).number is None


@pytest.mark.parametrize("number", [2 ** 1100, -(2 ** 1100), 10 ** 400])
def test_an_integer_beyond_float64_is_a_value_error_not_a_crash(number) -> None:
    with pytest.raises(ValueRangeError, match="value out of range"):
        to_value(number)
    with pytest.raises(ValueRangeError):
        to_value(Unsigned(number) if number > 0 else Integer(number))
    # The read path turns it into that point's error.
    assert present_value(number) == PropertyError("value out of range")


def test_present_value_passes_values_and_errors_through() -> None:
    assert present_value(Value(1.0)) == Value(1.0)
    assert present_value(None) == PropertyError("no value")
    assert present_value(PropertyError("error: unknown-object")) == PropertyError("error: unknown-object")
    assert present_value(Real(float("nan"))) == Value(None, "NaN")


@pytest.mark.parametrize("raw, text", [
    ("on\x00\x00\x00", "on"),
    ("\u202eLIVE\u202c", "LIVE"),
    ("line1\nline2", "line1 line2"),
    ("x" * 300, "x" * TEXT_MAX),
], ids=["nul", "bidi", "newline", "300-characters"])
def test_characterstring_values_are_cleaned_and_capped(raw, text) -> None:
    assert to_value(CharacterString(raw)) == Value(None, text)


def test_an_enumeration_the_stack_does_not_know_keeps_its_number() -> None:
    assert to_value(BinaryPV(7)) == Value(7.0, "7")


@pytest.mark.parametrize("limit", [NAME_MAX, DESCRIPTION_MAX, UNITS_MAX])
def test_to_text_caps_to_the_column(limit) -> None:
    assert to_text(CharacterString("\x00" + "n" * 2000), limit) == "n" * limit
    assert to_text(EngineeringUnits("degrees-celsius"), limit) == "degrees-celsius"[:limit]
    assert to_text(None, limit) == ""


@pytest.mark.parametrize("raw, ok", [(Unsigned(22), True), (0, True), (255, True), (256, False),
                                     (2 ** 64, False), (-1, False), ("22", False), (True, False), (22.0, False)])
def test_small_integers_are_range_checked(raw, ok) -> None:
    if ok:
        assert to_small_int(raw, 0, 255) == int(raw)
    else:
        with pytest.raises(ValueRangeError):
            to_small_int(raw, 0, 255)


def test_real_keeps_seven_significant_digits_and_never_makes_infinity() -> None:
    assert real_value(12.097999572753906) == Value(12.098)
    largest = real_value(1.7976931348623157e308).number
    assert largest is not None and math.isfinite(largest)


class OddValues:
    """A device read the stock way (bacpypes3's read_property_multiple) whose present values are
    an 1100-bit UNSIGNED, NaN, a NUL-padded string and one ordinary REAL."""

    VALUES = {("positive-integer-value", 1): Unsigned(2 ** 1100), ("analog-input", 2): Real(float("nan")),
              ("characterstring-value", 3): CharacterString("on\x00\x00"), ("analog-input", 4): Real(21.5)}

    async def read_property_multiple(self, address, parameters, vendor_info=None):
        return [(objid, references[0].propertyIdentifier, None, self.VALUES[(str(objid[0]), int(objid[1]))])
                for objid, references in zip(parameters[::2], parameters[1::2])]


def test_a_value_out_of_range_is_one_points_error_and_the_device_stays_online() -> None:
    target = DeviceTarget("127.0.0.78", 7002, 1476, "segmented-both")
    outcome = asyncio.run(read_present_values(OddValues(), target, list(OddValues.VALUES), timeout=1,  # type: ignore
                                              in_flight=2, profile=DeviceProfile()))
    assert outcome.ok and outcome.device_error is None
    assert outcome.errors == {("positive-integer-value", 1): "value out of range"}
    assert outcome.values == {("analog-input", 2): Value(None, "NaN"), ("characterstring-value", 3): Value(None, "on"),
                              ("analog-input", 4): Value(21.5)}
