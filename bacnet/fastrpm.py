"""The hot read's codec: ReadPropertyMultiple requests and answers encoded and decoded by hand.

bacpypes3 decodes a ReadPropertyMultiple-ACK into generic ``Sequence`` objects and casts every
value out of an ``Any``: ~0.3 ms of pure Python per value, most of a collection's CPU. The
answers to the pipeline's present-value reads have one simple shape, which this module walks
directly in the APDU's bytes (ASHRAE 135 clause 21, ReadAccessResult)::

    [0] object identifier                      0C xx xx xx xx
    [1] opening                                1E
        [2] property identifier                29 55            (1-4 octets)
        [3] property array index, optional     39 nn            (1-4 octets)
        [4] opening, ONE application-tagged    4E 44 41 48 00 00 4F
            primitive value, closing
        or [5] opening, error class and code   5E 91 01 91 1F 5F
            (enumerated), closing
    [1] closing                                1F

:func:`decode_ack` returns ``None`` — "not sure, let bacpypes3 decode this APDU" — for anything
else: constructed values, several tags in one value, tags it does not know, lengths that do not
add up, truncated or trailing bytes, a value whose tag is not what bacpypes3 would cast the
property to, enumeration values or error codes bacpypes3 would refuse. The caller then decodes
the same bytes the stock way (:mod:`bacnet.fastread`). A value therefore comes out of here only
when bacpypes3 would have produced the same one; the property's datatype is looked up exactly as
bacpypes3's ``read_property_multiple`` does (standard object class, ``Array`` index rules), and
values are converted exactly as :func:`bacnet.values.to_value` converts bacpypes3's (REAL rounded
to 7 significant digits, a non-finite REAL or DOUBLE as ``Value(None, "NaN" | "Infinity" |
"-Infinity")``, enumerations with their number and state name, characterstrings cleaned and
capped by :func:`bacnet.text.clean_text`). A number the conversion refuses (beyond float64) is
left to the stock path too, which reports it for that one point.

:func:`encode_request` builds the request's service data from per-object fragments encoded once
(bacpypes3 builds and encodes a ``ReadAccessSpecification`` sequence per object per request).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

from bacpypes3.basetypes import ErrorClass, ErrorCode
from bacpypes3.constructeddata import Array
from bacpypes3.primitivedata import (Boolean, CharacterString, Double, Enumerated, Integer, Null, ObjectType,
                                     PropertyIdentifier, Real, Unsigned)

from bacnet.limits import MAX_INSTANCE
from bacnet.properties import IDENTIFIER_CACHE, STANDARD_VENDOR, PropertyError, PropertySpec, ResultKey, _camel
from bacnet.types import ObjectRef, Value
from bacnet.values import ValueRangeError, integer_number, real_value, to_value

#: The ReadPropertyMultiple service choice (ASHRAE 135 clause 21, BACnetConfirmedServiceChoice).
READ_PROPERTY_MULTIPLE = 14

# Application tag numbers (clause 20.2.1.4) of the primitives the decoder reads itself.
TAG_NULL = 0
TAG_BOOLEAN = 1
TAG_UNSIGNED = 2
TAG_SIGNED = 3
TAG_REAL = 4
TAG_DOUBLE = 5
TAG_CHARACTER_STRING = 7
TAG_ENUMERATED = 9

# Fixed octets of the answer's structure: context tag 0 with 4 octets (object identifier),
# opening/closing tags 1, 4 and 5.
_OBJECT_ID = 0x0C
_OPEN_RESULTS, _CLOSE_RESULTS = 0x1E, 0x1F
_OPEN_VALUE, _CLOSE_VALUE = 0x4E, 0x4F
_OPEN_ERROR, _CLOSE_ERROR = 0x5E, 0x5F
#: Initial octet of a context tag 2 / 3 (property identifier / array index) without its length.
_PROPERTY_TAG, _INDEX_TAG = 0x28, 0x38
#: Initial octet of an application-tagged ENUMERATED without its length (error class and code).
_ENUMERATED_TAG = 0x90
#: Longest UNSIGNED / SIGNED / ENUMERATED we decode (bacpypes3 takes any length; 8 octets is
#: already beyond what any device sends).
_MAX_INTEGER = 8
#: Distinct (object type, property, index kind) datatypes and enumeration values kept.
_RULES_CACHE = 4096

_REAL = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
_OBJECT_ID_PACK = struct.Struct(">BI")

#: A decoded answer: per (object, camelCase property, array index) a value or a per-property error.
FastResults = dict[ResultKey, "Value | PropertyError"]


class _Unsure(Exception):
    """Raised inside the decoder for anything it does not recognise; never leaves this module."""


# -- request ----------------------------------------------------------------------------------------


def _context_unsigned(tag: int, number: int) -> bytes:
    """A context-tagged unsigned/enumerated in the fewest octets, as bacpypes3 encodes it."""
    data = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    if len(data) > 4:
        raise ValueError(f"{number} does not fit a context tag")
    return bytes([(tag << 4) | 0x08 | len(data)]) + data


@lru_cache(maxsize=1024)
def _object_type_number(name: str) -> int:
    return int(ObjectType(name))


@lru_cache(maxsize=IDENTIFIER_CACHE)
def _object_head(ref: ObjectRef) -> bytes:
    # Encoded from the type's number: no bacpypes3 ObjectIdentifier (~750 bytes) kept per object.
    instance = int(ref[1])
    if not 0 <= instance <= MAX_INSTANCE:
        raise ValueError(f"object instance {instance} is outside 0..{MAX_INSTANCE}")
    return _OBJECT_ID_PACK.pack(_OBJECT_ID, (_object_type_number(ref[0]) << 22) | instance)


@lru_cache(maxsize=1024)
def _property_reference(prop: str, index: int | None) -> bytes:
    # BACnetPropertyReference: propertyIdentifier [0], propertyArrayIndex [1] OPTIONAL.
    data = _context_unsigned(0, int(PropertyIdentifier(prop)))
    return data if index is None else data + _context_unsigned(1, index)


def encode_request(specs: Sequence[PropertySpec]) -> bytes:
    """Service data of a ReadPropertyMultiple-Request for ``specs``, byte for byte what bacpypes3
    encodes for the same read access specifications (one per object, in first-seen order)."""
    by_object: dict[ObjectRef, list[bytes]] = {}
    for ref, prop, index in specs:
        by_object.setdefault(ref, []).append(_property_reference(prop, index))
    parts: list[bytes] = []
    for ref, props in by_object.items():
        parts.append(_object_head(ref))
        parts.append(b"\x1e")
        parts.extend(props)
        parts.append(b"\x1f")
    return b"".join(parts)


# -- answer: names and datatypes, looked up the way bacpypes3 does ----------------------------------


@lru_cache(maxsize=1024)
def _object_type_name(object_type: int) -> str:
    return str(ObjectType(object_type))


@lru_cache(maxsize=1024)
def _property_name(prop: int) -> str:
    return _camel(str(PropertyIdentifier(prop)))


@lru_cache(maxsize=1024)
def _error(error_class: int, error_code: int) -> PropertyError | None:
    try:
        ErrorClass(error_class)  # bacpypes3 refuses the whole answer for a class it cannot cast
        return PropertyError(f"error: {ErrorCode(error_code)}")
    except (ValueError, TypeError):
        return None


def _enumerated(kind: type, number: int) -> Value | None:
    try:
        return _enumerated_value(kind, number)
    except (ValueError, TypeError, ValueRangeError):
        return None


@lru_cache(maxsize=_RULES_CACHE)
def _enumerated_value(kind: type, number: int) -> Value:
    # The class bacpypes3 would cast to gives the state name (BinaryPV: active/inactive).
    return to_value(kind(number))


def _text(kind: type, text: str) -> Value | None:
    try:
        # The class checks its length limits, as bacpypes3's decode does; to_value cleans the text.
        return to_value(kind(text))
    except (ValueError, TypeError):
        return None


_TRUE, _FALSE = to_value(Boolean(True)), to_value(Boolean(False))
_NULL = to_value(Null(()))


def _real(number: float) -> Value:
    return real_value(number)


def _number(number: int) -> Value | None:
    # At most _MAX_INTEGER octets always fit a float64; should that ever change, a number
    # beyond it goes to the stock path, which reports it as a per-point error.
    try:
        return Value(integer_number(number))
    except ValueRangeError:
        return None


#: How the value of one property is read: the application tag bacpypes3 would accept, and the
#: conversion of the decoded Python value into our Value (None: unsure, fall back).
Rule = tuple[int, Callable[[object], "Value | None"]]


@lru_cache(maxsize=_RULES_CACHE)
def value_rule(object_type: int, prop: int, index_kind: int | None) -> Rule | None:
    """The rule for ``prop`` of ``object_type`` (``index_kind``: None, 0 or 1 for any other index),
    or None when bacpypes3's answer cannot be reproduced here (unknown or vendor-specific object
    types and properties, constructed or ``Any`` datatypes, bounded subclasses)."""
    try:
        object_class = STANDARD_VENDOR.get_object_class(object_type)
        if object_class is None:
            return None
        kind = object_class.get_property_type(PropertyIdentifier(prop))
        if kind is None:
            return None
        if isinstance(kind, type) and issubclass(kind, Array) and index_kind is not None:
            kind = Unsigned if index_kind == 0 else kind._subtype
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    if not isinstance(kind, type):
        return None
    if kind is Real:
        return TAG_REAL, _real
    if kind is Double:
        return TAG_DOUBLE, _real
    if kind is Unsigned:
        return TAG_UNSIGNED, _number
    if kind is Integer:
        return TAG_SIGNED, _number
    if kind is Boolean:
        return TAG_BOOLEAN, lambda value: _TRUE if value else _FALSE
    if kind is Null:
        return TAG_NULL, lambda value: _NULL
    if issubclass(kind, Enumerated):
        return TAG_ENUMERATED, partial(_enumerated, kind)
    if issubclass(kind, CharacterString):
        return TAG_CHARACTER_STRING, partial(_text, kind)
    return None


# -- answer: the bytes ------------------------------------------------------------------------------


def _context_number(data: bytes, i: int, end: int, tag: int) -> tuple[int, int]:
    """(value, next index) of a context tag ``tag`` with 1-4 octets of unsigned at ``data[i]``."""
    octet = data[i]
    length = octet & 0x07
    if octet & 0xF8 != tag or not 1 <= length <= 4 or i + 1 + length > end:
        raise _Unsure
    return int.from_bytes(data[i + 1:i + 1 + length], "big"), i + 1 + length


def _application_value(data: bytes, i: int, end: int) -> tuple[int, object, int]:
    """(tag number, Python value, next index) of the one application-tagged primitive at ``data[i]``."""
    octet = data[i]
    tag, length = octet >> 4, octet & 0x07
    if octet & 0x08 or tag >= 13:  # context, opening or closing tag; reserved or extended tag number
        raise _Unsure
    i += 1
    if tag == TAG_BOOLEAN:  # the value is in the length field
        if length > 1:
            raise _Unsure
        return tag, bool(length), i
    if length == 5:  # extended length
        if i >= end:
            raise _Unsure
        length = data[i]
        i += 1
        if length >= 254:
            size = 2 if length == 254 else 4
            if i + size > end:
                raise _Unsure
            length = int.from_bytes(data[i:i + size], "big")
            i += size
    elif length > 5:
        raise _Unsure
    stop = i + length
    if stop > end:
        raise _Unsure
    if tag == TAG_REAL and length == 4:
        return tag, _REAL.unpack_from(data, i)[0], stop
    if tag in (TAG_UNSIGNED, TAG_ENUMERATED) and 1 <= length <= _MAX_INTEGER:
        return tag, int.from_bytes(data[i:stop], "big"), stop
    if tag == TAG_SIGNED and 1 <= length <= _MAX_INTEGER:
        return tag, int.from_bytes(data[i:stop], "big", signed=True), stop
    if tag == TAG_DOUBLE and length == 8:
        return tag, _DOUBLE.unpack_from(data, i)[0], stop
    if tag == TAG_NULL and length == 0:
        return tag, None, stop
    if tag == TAG_CHARACTER_STRING and length >= 1 and data[i] == 0:  # 0: UTF-8 (ANSI X3.4 before 2008)
        try:
            return tag, bytes(data[i + 1:stop]).decode("utf-8"), stop
        except UnicodeDecodeError:  # bacpypes3 then tries latin-1
            raise _Unsure from None
    raise _Unsure


def _decode(data: bytes) -> FastResults:
    results: FastResults = {}
    end = len(data)
    i = 0
    while i < end:
        if data[i] != _OBJECT_ID or i + 6 > end or data[i + 5] != _OPEN_RESULTS:
            raise _Unsure
        objid = int.from_bytes(data[i + 1:i + 5], "big")
        object_type = objid >> 22
        ref = (_object_type_name(object_type), objid & 0x3FFFFF)
        i += 6
        while True:
            if i >= end:
                raise _Unsure
            if data[i] == _CLOSE_RESULTS:
                i += 1
                break
            prop, i = _context_number(data, i, end, _PROPERTY_TAG)
            index = None
            if i < end and data[i] & 0xF8 == _INDEX_TAG:
                index, i = _context_number(data, i, end, _INDEX_TAG)
            if i >= end:
                raise _Unsure
            octet = data[i]
            if octet == _OPEN_VALUE:
                if i + 1 >= end:
                    raise _Unsure
                tag, raw, i = _application_value(data, i + 1, end)
                if i >= end or data[i] != _CLOSE_VALUE:
                    raise _Unsure  # several tags, or a constructed value
                rule = value_rule(object_type, prop, None if index is None else min(index, 1))
                if rule is None or rule[0] != tag:
                    raise _Unsure
                value = rule[1](raw)
                if value is None:
                    raise _Unsure
            elif octet == _OPEN_ERROR:
                i += 1
                codes = []
                for _ in range(2):
                    if i >= end:
                        raise _Unsure
                    octet = data[i]
                    length = octet & 0x07
                    if octet & 0xF8 != _ENUMERATED_TAG or not 1 <= length <= 4 or i + 1 + length > end:
                        raise _Unsure
                    codes.append(int.from_bytes(data[i + 1:i + 1 + length], "big"))
                    i += 1 + length
                if i >= end or data[i] != _CLOSE_ERROR:
                    raise _Unsure
                value = _error(codes[0], codes[1])
                if value is None:
                    raise _Unsure
            else:
                raise _Unsure
            i += 1  # the closing tag 4 or 5
            results[(ref, _property_name(prop), index)] = value
    return results


def decode_ack(data: bytes | bytearray) -> FastResults | None:
    """The results of a ReadPropertyMultiple-ACK's service data, or None when any part of it is
    not something this decoder is sure about (the caller then decodes it with bacpypes3)."""
    if not data:
        return None  # bacpypes3 refuses an answer without its (required) list of results
    try:
        return _decode(data)
    except _Unsure:
        return None
    except Exception:  # noqa: BLE001 - a decoder bug must cost speed, never a wrong value or a crash
        return None
