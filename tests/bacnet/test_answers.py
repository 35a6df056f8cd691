"""Answers matched by source address, invoke id and service (issue 12).

A raw socket plays the device: it receives the collector's request and answers with the frame a
test chooses. An answer of another service (a device's reply cache answering a ReadProperty with
the SimpleACK of an earlier WriteProperty that had the same invoke id) must fail the request,
never come back as the value null; an answer from another address must not be taken at all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
from bacpypes3.apdu import (ComplexAckPDU, ConfirmedServiceChoice, ErrorPDU, RejectPDU, SimpleAckPDU,
                            complex_ack_types)
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real

from bacnet.answers import COMPLEX_ACK_SERVICES, answer_problem
from bacnet.errors import DeviceError
from bacnet.fastread import read_multiple_fast
from bacnet.properties import DeviceProfile, DeviceReader, PropertyError, read_property
from bacnet.runtime import BACnetRuntime
from tests.bacnet.wire import (READ_PROPERTY, READ_PROPERTY_MULTIPLE, WRITE_PROPERTY, RawPeer, error,
                               original_unicast, read_property_ack, read_property_multiple_ack, simple_ack)

#: Per-request timeout (seconds): a wrong answer must fail the request at once, long before it.
TIMEOUT = 2.0
REF = ("analog-input", 1)
KEY = (REF, "presentValue", None)


@pytest.fixture
def device(loopback_block):
    peer = RawPeer(f"127.0.{loopback_block}.31")
    yield peer
    peer.close()


@pytest.fixture
def other_host(loopback_block):
    peer = RawPeer(f"127.0.{loopback_block}.32")
    yield peer
    peer.close()


def address_of(peer: RawPeer) -> Address:
    return Address(peer.address[0])


def run(runtime: BACnetRuntime, coroutine) -> concurrent.futures.Future:
    return asyncio.run_coroutine_threadsafe(coroutine, runtime.loop)


def read_one(runtime: BACnetRuntime, device: RawPeer) -> concurrent.futures.Future:
    return run(runtime, read_property(runtime.app, address_of(device), REF, "presentValue", TIMEOUT))


def read_many(runtime: BACnetRuntime, device: RawPeer) -> concurrent.futures.Future:
    return run(runtime, read_multiple_fast(runtime.app, address_of(device), [(REF, "presentValue", None)], TIMEOUT))


@pytest.mark.parametrize("wrong_answer, described", [
    (lambda invoke_id: simple_ack(invoke_id, WRITE_PROPERTY), "a SimpleACK of write-property"),
    (lambda invoke_id: simple_ack(invoke_id, READ_PROPERTY),
     "a SimpleACK, but read-property is answered with a ComplexACK"),
    (lambda invoke_id: read_property_multiple_ack(invoke_id, 666.0), "a ComplexACK of read-property-multiple"),
    (lambda invoke_id: error(invoke_id, WRITE_PROPERTY), "an Error of write-property"),
])
def test_a_read_property_answered_with_another_service_fails(runtime, device, wrong_answer, described):
    pending = read_one(runtime, device)
    request = device.receive_request()
    assert request.service == READ_PROPERTY
    device.send(original_unicast(wrong_answer(request.invoke_id)), request.source)
    with pytest.raises(DeviceError) as caught:
        pending.result(TIMEOUT)  # at once, not after the timeout
    assert (caught.value.kind, caught.value.reason) == ("invalid", "wrong-service")
    assert str(caught.value) == (f"read-property to {device.address[0]} (invoke id {request.invoke_id}) was "
                                 f"answered with {described}: not an answer to it")

    # Nothing is left stuck: the next read gets a new invoke id and its right answer.
    pending = read_one(runtime, device)
    again = device.receive_request()
    assert again.invoke_id != request.invoke_id
    device.send(original_unicast(read_property_ack(again.invoke_id, 21.5)), again.source)
    assert pending.result(TIMEOUT) == 21.5


def test_the_hot_read_answered_with_another_service_fails(runtime, device):
    pending = read_many(runtime, device)
    request = device.receive_request()
    assert request.service == READ_PROPERTY_MULTIPLE
    device.send(original_unicast(read_property_ack(request.invoke_id, 666.0)), request.source)
    with pytest.raises(DeviceError, match="answered with a ComplexACK of read-property: ") as caught:
        pending.result(TIMEOUT)
    assert caught.value.reason == "wrong-service"


def test_a_reply_cache_answer_is_a_point_error_not_null(runtime, device):
    # The collection's reader: ReadPropertyMultiple, then (the whole request failed) ReadProperty
    # per point. A device answering every request from a stale reply cache gives a point error.
    async def read() -> dict:
        reader = DeviceReader(runtime.app, address_of(device), timeout=TIMEOUT, in_flight=1, batch=10,
                              profile=DeviceProfile(), multiple=read_multiple_fast)
        return await reader.read([(REF, "presentValue", None)])

    pending = run(runtime, read())
    for expected in (READ_PROPERTY_MULTIPLE, READ_PROPERTY):
        request = device.receive_request()
        assert request.service == expected
        device.send(original_unicast(simple_ack(request.invoke_id, WRITE_PROPERTY)), request.source)
    value = pending.result(TIMEOUT)[KEY]
    assert isinstance(value, PropertyError) and str(value) == "invalid: wrong-service"


@pytest.mark.parametrize("read", [read_one, read_many])
def test_an_answer_from_another_address_is_not_taken(runtime, device, other_host, read):
    # The right invoke id and service, from the wrong host: no transaction matches, so the
    # device's own answer, sent right after, is the one read.
    pending = read(runtime, device)
    request = device.receive_request()
    forged = (read_property_ack if read is read_one else read_property_multiple_ack)(request.invoke_id, 666.0)
    other_host.send(original_unicast(forged), request.source)
    real = (read_property_ack if read is read_one else read_property_multiple_ack)(request.invoke_id, 21.5)
    device.send(original_unicast(real), request.source)
    result = pending.result(TIMEOUT)
    assert (result if read is read_one else result[KEY].number) == 21.5


def test_a_write_answered_with_a_complex_ack_fails(runtime, device):
    # A WriteProperty is answered with a SimpleACK; a ComplexACK (here a ReadProperty-ACK with
    # the write's invoke id) does not confirm the write.
    write = runtime.app.write_property(address_of(device), "analog-value,1", "presentValue", Real(1.0), priority=8)
    pending = run(runtime, write)
    request = device.receive_request()
    assert request.service == WRITE_PROPERTY
    device.send(original_unicast(read_property_ack(request.invoke_id, 1.0)), request.source)
    with pytest.raises(DeviceError, match="answered with a ComplexACK of read-property"):
        pending.result(TIMEOUT)


def test_answer_problem_per_kind():
    def answer(kind, service):
        return kind(service_choice=service) if kind is not RejectPDU else RejectPDU(reason=9)

    assert answer_problem(READ_PROPERTY, answer(ComplexAckPDU, READ_PROPERTY)) is None
    assert answer_problem(READ_PROPERTY, answer(ErrorPDU, READ_PROPERTY)) is None
    assert answer_problem(WRITE_PROPERTY, answer(SimpleAckPDU, WRITE_PROPERTY)) is None
    assert answer_problem(READ_PROPERTY, answer(RejectPDU, None)) is None  # rejects carry no service
    assert answer_problem(WRITE_PROPERTY, answer(ComplexAckPDU, WRITE_PROPERTY)) == (
        "a ComplexACK, but write-property is answered with a SimpleACK")
    assert answer_problem(READ_PROPERTY, answer(ComplexAckPDU, 200)) == "a ComplexACK of service 200"


def test_complex_ack_services_cover_bacpypes3s_acks():
    # Every ComplexACK bacpypes3 can decode answers a service listed as answered that way.
    assert set(complex_ack_types) <= COMPLEX_ACK_SERVICES
    assert ConfirmedServiceChoice.auditLogQuery in COMPLEX_ACK_SERVICES
