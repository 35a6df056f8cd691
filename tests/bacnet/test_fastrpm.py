"""The hot read's hand-written ReadPropertyMultiple codec gives exactly what bacpypes3 gives.

Answers are built and encoded with bacpypes3's own classes, then decoded both ways: by
:func:`bacnet.fastrpm.decode_ack` and by the stock path (``APCISequence.decode``, the datatype
lookup and ``cast_out``, then :func:`bacnet.values.to_value`). The fast decoder may say "not
sure" (None) — the caller then uses the stock path — but it must never give a different value.
"""

from __future__ import annotations

import random

import pytest
from bacpypes3.apdu import APCISequence, ComplexAckPDU, ReadPropertyMultipleACK, ReadPropertyMultipleRequest
from bacpypes3.basetypes import (BinaryPV, ErrorType, PropertyIdentifier, PropertyReference, ReadAccessResult,
                                 ReadAccessResultElement, ReadAccessResultElementChoice, ReadAccessSpecification,
                                 StatusFlags)
from bacpypes3.constructeddata import Any, ArrayOf
from bacpypes3.primitivedata import (Boolean, CharacterString, Double, Enumerated, Integer, Null, ObjectIdentifier,
                                     Real, Unsigned)

from bacnet.errors import DeviceError
from bacnet.fastread import decode_answer, stock_values
from bacnet.fastrpm import decode_ack, encode_request
from bacnet.properties import PropertyError, results_of
from bacnet.reading import present_value
from bacnet.types import Value

#: Mutated answers the fuzz test decodes both ways (bounded: ~1 s).
FUZZ_CASES = 3000


def element(prop: str, value=None, *, index: int | None = None, error: tuple[str, str] | None = None):
    if error is not None:
        choice = ReadAccessResultElementChoice(propertyAccessError=ErrorType(errorClass=error[0], errorCode=error[1]))
    else:
        choice = ReadAccessResultElementChoice(propertyValue=Any(value))
    kwargs = {"propertyIdentifier": PropertyIdentifier(prop), "readResult": choice}
    if index is not None:
        kwargs["propertyArrayIndex"] = index
    return ReadAccessResultElement(**kwargs)


def ack(*results: tuple[str, list]) -> ComplexAckPDU:
    """A ReadPropertyMultiple-ACK APDU as a device sends it: (object "type,instance", elements)."""
    answer = ReadPropertyMultipleACK(listOfReadAccessResults=[
        ReadAccessResult(objectIdentifier=ObjectIdentifier(obj), listOfResults=elements)
        for obj, elements in results
    ])
    return answer.encode()


def copy(apdu: ComplexAckPDU, data: bytes | None = None) -> ComplexAckPDU:
    """A fresh APDU with ``apdu``'s header and ``data`` (default: its own); decoding consumes the data."""
    fresh = ComplexAckPDU()
    fresh.update(apdu)
    fresh.put_data(bytes(apdu.pduData) if data is None else data)
    return fresh


def converted(results: dict) -> dict:
    """``results`` with bacpypes3's values converted as :mod:`bacnet.reading` converts them (a
    number no float holds becomes that point's error)."""
    return {key: present_value(value) for key, value in results.items()}


def stock(apdu: ComplexAckPDU) -> dict:
    """What the stock path makes of ``apdu``: bacpypes3's decode and cast, then our conversion."""
    return converted(results_of(stock_values(APCISequence.decode(copy(apdu)))))


MIXED = ack(
    ("analog-input,1", [element("present-value", Real(12.098))]),
    ("analog-value,7", [element("present-value", Real(-3.5)), element("units", Enumerated(62))]),
    ("binary-value,2", [element("present-value", BinaryPV("active"))]),
    ("binary-value,3", [element("present-value", BinaryPV("inactive")), element("out-of-service", Boolean(False))]),
    ("analog-input,9", [element("present-value", error=("object", "unknown-object"))]),
    ("multi-state-value,4", [element("present-value", Unsigned(3)), element("number-of-states", Unsigned(5))]),
    ("analog-value,8", [element("priority-array", Unsigned(16), index=0)]),
    ("analog-input,4194302", [element("present-value", Real(1e30))]),
    ("device,1001", [element("object-name", CharacterString("AHU-1 supply fan — Zürich"))]),
    ("large-analog-value,1", [element("present-value", Double(123456.789012345))]),
    ("integer-value,1", [element("present-value", Integer(-40))]),
)


#: What hostile or odd devices send: non-finite REALs and DOUBLEs, characterstrings with NUL
#: padding, bidi overrides, control characters and 300 characters, in other character sets.
HOSTILE = ack(
    ("analog-input,1", [element("present-value", Real(float("nan")))]),
    ("analog-input,2", [element("present-value", Real(float("inf")))]),
    ("analog-value,3", [element("present-value", Real(float("-inf")))]),
    ("large-analog-value,4", [element("present-value", Double(float("nan")))]),
    ("large-analog-value,5", [element("present-value", Double(float("-inf")))]),
    ("characterstring-value,6", [element("present-value", CharacterString("on\x00\x00\x00\x00"))]),
    ("characterstring-value,7", [element("present-value", CharacterString("\u202eDELIVERED\u202c\r\nok"))]),
    ("characterstring-value,8", [element("present-value", CharacterString("é" * 300))]),
    ("characterstring-value,9", [element("present-value", CharacterString("utf16\x00\u2066x", _encoding=4))]),
    ("characterstring-value,10", [element("present-value", CharacterString("latin\x85\x9b1", _encoding=5))]),
    ("device,1001", [element("object-name", CharacterString("\x00" * 20 + "AHU-1" + "\x07"))]),
)


def bare_ack(data: bytes) -> ComplexAckPDU:
    """A ReadPropertyMultiple-ACK APDU around hand-made service data (what bacpypes3 cannot encode)."""
    apdu = ComplexAckPDU()
    apdu.apduService = 14
    apdu.apduInvokeID = 1
    apdu.put_data(data)
    return apdu


#: positive-integer-value,1 present-value: an UNSIGNED of 1100 bits (138 octets), beyond float64.
HUGE_UNSIGNED = bare_ack(bytes([0x0C]) + ((48 << 22) | 1).to_bytes(4, "big") + b"\x1e\x29\x55\x4e"
                         + bytes([0x25, 138]) + (1 << 1099).to_bytes(138, "big") + b"\x4f\x1f")


def test_hostile_values_are_the_same_both_ways_and_clean() -> None:
    expected = stock(HOSTILE)
    assert converted(decode_answer(copy(HOSTILE), "test")) == expected
    assert decode_ack(HOSTILE.pduData) is None  # UTF-16 and Latin-1 strings: the stock path decodes it
    assert expected[(("analog-input", 1), "presentValue", None)] == Value(None, "NaN")
    assert expected[(("analog-input", 2), "presentValue", None)] == Value(None, "Infinity")
    assert expected[(("analog-value", 3), "presentValue", None)] == Value(None, "-Infinity")
    assert expected[(("large-analog-value", 4), "presentValue", None)] == Value(None, "NaN")
    assert expected[(("large-analog-value", 5), "presentValue", None)] == Value(None, "-Infinity")
    assert expected[(("characterstring-value", 6), "presentValue", None)] == Value(None, "on")
    assert expected[(("characterstring-value", 7), "presentValue", None)] == Value(None, "DELIVERED ok")
    assert expected[(("characterstring-value", 8), "presentValue", None)] == Value(None, "é" * 255)
    assert expected[(("characterstring-value", 9), "presentValue", None)] == Value(None, "utf16x")
    assert expected[(("characterstring-value", 10), "presentValue", None)] == Value(None, "latin 1")
    assert expected[(("device", 1001), "objectName", None)] == Value(None, "AHU-1")


def test_fast_decoder_reads_non_finite_and_hostile_text_itself() -> None:
    # Such values in UTF-8: every one of them is read by the fast decoder itself, to the same result.
    apdu = ack(("analog-input,1", [element("present-value", Real(float("nan")))]),
               ("large-analog-value,4", [element("present-value", Double(float("inf")))]),
               ("characterstring-value,6", [element("present-value", CharacterString("on\x00\x00"))]),
               ("characterstring-value,8", [element("present-value", CharacterString("\u202ex" * 300))]))
    fast = decode_ack(apdu.pduData)
    assert fast is not None
    assert fast == stock(apdu)
    assert fast[(("characterstring-value", 8), "presentValue", None)] == Value(None, "x" * 255)


def test_an_integer_beyond_float64_is_that_points_error_both_ways() -> None:
    assert decode_ack(HUGE_UNSIGNED.pduData) is None  # longer than the fast decoder reads
    results = converted(decode_answer(copy(HUGE_UNSIGNED), "test"))
    assert results == stock(HUGE_UNSIGNED)
    assert results == {(("positive-integer-value", 1), "presentValue", None): PropertyError("value out of range")}


def test_mixed_answer_decodes_fast_and_equal_to_bacpypes3() -> None:
    fast = decode_ack(MIXED.pduData)
    assert fast is not None, "every value of this answer has a shape the fast decoder reads"
    assert fast == stock(MIXED)
    assert fast[(("analog-input", 1), "presentValue", None)] == Value(12.098)
    assert fast[(("binary-value", 2), "presentValue", None)] == Value(1.0, "active")
    assert fast[(("analog-input", 9), "presentValue", None)] == PropertyError("error: unknown-object")
    assert fast[(("analog-value", 8), "priorityArray", 0)] == Value(16.0)
    assert fast[(("device", 1001), "objectName", None)] == Value(None, "AHU-1 supply fan — Zürich")


def test_decode_answer_uses_fast_results_and_matches_the_stock_path() -> None:
    assert converted(decode_answer(copy(MIXED), "test")) == stock(MIXED)


def test_an_answer_bacpypes3_already_decoded_is_read_the_stock_way() -> None:
    # What the request's future holds when the raw-ack access point is not in place (another
    # application, or a bacpypes3 whose internals changed): a decoded ReadPropertyMultipleACK.
    decoded = APCISequence.decode(copy(MIXED))
    assert isinstance(decoded, ReadPropertyMultipleACK)
    assert converted(decode_answer(decoded, "test")) == stock(MIXED)


@pytest.mark.parametrize("apdu", [
    # A constructed value (a whole object list) and a bit string (status flags): not this decoder's.
    ack(("device,1001", [element("object-list", ArrayOf(ObjectIdentifier)([ObjectIdentifier("analog-input,1")]))])),
    ack(("analog-input,1", [element("status-flags", StatusFlags([0, 1, 0, 0]))])),
    # A value whose tag is not what bacpypes3 casts the property to (REAL property sent as UNSIGNED).
    ack(("analog-input,1", [element("present-value", Unsigned(7))])),
    # A Null where the property is a REAL.
    ack(("analog-input,1", [element("present-value", Null(()))])),
], ids=["object-list", "status-flags", "wrong-tag", "null-for-real"])
def test_unsure_shapes_fall_back_to_bacpypes3(apdu) -> None:
    # decode_ack says "not sure"; decode_answer then gives exactly the stock result or the same error.
    assert decode_ack(apdu.pduData) is None
    try:
        expected = stock(apdu)
    except Exception:  # noqa: BLE001 - the stock path refuses: so must the fast path
        with pytest.raises(DeviceError):
            decode_answer(copy(apdu), "test")
    else:
        assert converted(decode_answer(copy(apdu), "test")) == expected


def test_vendor_specific_properties_are_left_to_bacpypes3() -> None:
    apdu = ack(("analog-input,1", [element(PropertyIdentifier(600), Real(1.0))]))
    assert decode_ack(apdu.pduData) is None
    assert converted(decode_answer(copy(apdu), "test")) == stock(apdu)


@pytest.mark.parametrize("cut", [1, 2, 5, 6, 8, 11])
def test_truncated_answers_are_never_decoded_fast(cut: int) -> None:
    data = bytes(MIXED.pduData)[:-cut]
    assert decode_ack(data) is None


def test_trailing_garbage_is_never_decoded_fast() -> None:
    assert decode_ack(bytes(MIXED.pduData) + b"\x00") is None
    assert decode_ack(b"") is None


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random damage: a flipped bit, a changed, dropped or inserted octet, a cut."""
    buffer = bytearray(data)
    kind = rng.randrange(5)
    position = rng.randrange(len(buffer))
    if kind == 0:
        buffer[position] ^= 1 << rng.randrange(8)
    elif kind == 1:
        buffer[position] = rng.randrange(256)
    elif kind == 2:
        del buffer[position]
    elif kind == 3:
        buffer.insert(position, rng.randrange(256))
    else:
        del buffer[position:]
    return bytes(buffer)


@pytest.mark.parametrize("answer", [MIXED, ack(*[
    ("analog-input,1", [element("present-value", Real(float("nan")))]),
    ("large-analog-value,4", [element("present-value", Double(float("-inf")))]),
    ("characterstring-value,6", [element("present-value", CharacterString("on\x00\u202e" + "x" * 40))]),
    ("multi-state-value,4", [element("present-value", Unsigned(3))]),
])], ids=["mixed", "hostile"])
def test_fuzzed_answers_decode_fast_only_to_what_bacpypes3_decodes(answer) -> None:
    rng = random.Random(20261127)
    fast_count = 0
    for _ in range(FUZZ_CASES):
        data = mutate(bytes(answer.pduData), rng)
        fast = decode_ack(data)
        if fast is None:
            continue
        fast_count += 1
        # Whatever the fast decoder accepted, bacpypes3 must decode to the very same results.
        assert fast == stock(copy(answer, data)), data.hex()
    # Damage that keeps the shape (a flipped bit inside a REAL) is common: the fast path is exercised.
    assert fast_count > 100


def encode_stock_request(specs) -> bytes:
    parameters: list = []
    by_object: dict = {}
    for ref, prop, index in specs:
        reference = (PropertyReference(propertyIdentifier=PropertyIdentifier(prop)) if index is None else
                     PropertyReference(propertyIdentifier=PropertyIdentifier(prop), propertyArrayIndex=index))
        by_object.setdefault(ref, []).append(reference)
    for ref, props in by_object.items():
        parameters.append(ReadAccessSpecification(objectIdentifier=ObjectIdentifier(f"{ref[0]},{ref[1]}"),
                                                  listOfPropertyReferences=props))
    return bytes(ReadPropertyMultipleRequest(listOfReadAccessSpecs=parameters).encode().pduData)


def test_request_is_byte_for_byte_what_bacpypes3_encodes() -> None:
    specs = [
        (("analog-input", 1), "presentValue", None),
        (("analog-input", 1), "units", None),
        (("binary-value", 4194302), "present-value", None),
        (("analog-value", 300), "priorityArray", 0),
        (("analog-value", 300), "priorityArray", 16),
        (("device", 1001), "objectList", 70000),
        (("analog-input", 1), "objectName", None),
    ]
    assert encode_request(specs) == encode_stock_request(specs)
