"""The collector's own device object is read-only to the network (issue 12).

A peer — a bacpypes3 application on another loopback address — tries everything that would
change the collector's objects, and what would silence or restart it; each gets the standard's
Error (or Reject), and nothing changes. What a peer may do (read, Who-Is, Who-Has) still works.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from bacpypes3.apdu import (CreateObjectError, CreateObjectRequest, DeleteObjectRequest,
                            DeviceCommunicationControlRequest, ErrorRejectAbortNack, ReadPropertyMultipleACK,
                            ReadPropertyMultipleRequest, ReinitializeDeviceRequest, RejectPDU,
                            WritePropertyMultipleError, WritePropertyMultipleRequest, WritePropertyRequest)
from bacpypes3.app import Application
from bacpypes3.basetypes import (CreateObjectRequestObjectSpecifier, PropertyReference, PropertyValue,
                                 ReadAccessSpecification, Segmentation, WriteAccessSpecification)
from bacpypes3.constructeddata import Any
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import CharacterString, ObjectIdentifier, Unsigned

from bacnet.runtime import OWN_MAX_APDU, BACnetRuntime
from tests.bacnet.apps import AppThread, device_object
from tests.bacnet.wire import ADD_LIST_ELEMENT, REMOVE_LIST_ELEMENT, RawPeer, confirmed_request, list_element_request

#: Seconds the peer waits for one answer (the collector answers at once).
ANSWER_TIMEOUT = 2.0


class Peer:
    """A bacpypes3 application at ``host:47808`` on its own loop thread, talking to the collector."""

    def __init__(self, host: str, collector: BACnetRuntime) -> None:
        self.collector = Address(f"{collector.host}:{collector.port}")
        self.device = ObjectIdentifier(f"device,{collector.device_instance}")
        self.thread = AppThread("bacnet-test-peer")

        def build():
            port = NetworkPortObject(f"{host}/8:47808", objectIdentifier=("network-port", 1),
                                     objectName="NetworkPort-1")
            app = Application.from_object_list(
                [device_object(random.randrange(100_000, 4_000_000), "Peer"), port])
            self.thread.apps.append(app)
            return app

        self.app = self.thread.start(build)

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.thread.loop).result(ANSWER_TIMEOUT + 1)

    def ask(self, request) -> object:
        """Send a confirmed request to the collector: its answer, or the Error/Reject/Abort it sent."""
        request.pduDestination = self.collector

        async def send():
            try:
                return await asyncio.wait_for(self.app.request(request), ANSWER_TIMEOUT)
            except ErrorRejectAbortNack as refusal:
                return refusal

        return self.run(send())

    def read(self, objid: ObjectIdentifier, prop: str) -> object:
        return self.run(asyncio.wait_for(self.app.read_property(self.collector, objid, prop), ANSWER_TIMEOUT))

    def stop(self) -> None:
        self.thread.stop()


@pytest.fixture
def peer(runtime, loopback_block):
    client = Peer(f"127.0.{loopback_block}.40", runtime)
    yield client
    client.stop()


def own_values(runtime: BACnetRuntime) -> tuple:
    device = runtime.app.device_object
    port = runtime.app.get_object_id(ObjectIdentifier("network-port,1"))
    return (device.objectName, device.maxApduLengthAccepted, device.segmentationSupported, port.objectName)


def error_of(answer) -> tuple[str, str]:
    """(class, code) of an Error answer, whatever the service's error format."""
    error_type = getattr(answer, "errorType", answer)
    return str(error_type.errorClass), str(error_type.errorCode)


#: What a hostile peer wrote into a stock bacpypes3 collector (issue 12), as bacpypes3 values.
WRITES = {
    "objectName": lambda: CharacterString("pwned"),
    "maxApduLengthAccepted": lambda: Unsigned(50),
    "segmentationSupported": lambda: Segmentation("no-segmentation"),
}


@pytest.mark.parametrize("prop", list(WRITES))
def test_write_property_to_the_collector_is_denied(runtime, peer, prop):
    before = own_values(runtime)
    answer = peer.ask(WritePropertyRequest(objectIdentifier=peer.device, propertyIdentifier=prop,
                                           propertyValue=Any(WRITES[prop]())))
    assert error_of(answer) == ("property", "write-access-denied")
    assert own_values(runtime) == before == (runtime.name, OWN_MAX_APDU, Segmentation.segmentedBoth, "NetworkPort-1")
    assert peer.read(peer.device, prop) == getattr(runtime.app.device_object, prop)


@pytest.mark.parametrize("objid, expected", [
    ("device,4194303", ("property", "write-access-denied")),  # the wildcard instance is us
    ("network-port,1", ("property", "write-access-denied")),
    ("analog-value,1", ("object", "unknown-object")),
])
def test_write_property_to_any_other_object(runtime, peer, objid, expected):
    before = own_values(runtime)
    answer = peer.ask(WritePropertyRequest(objectIdentifier=ObjectIdentifier(objid), propertyIdentifier="objectName",
                                           propertyValue=Any(CharacterString("pwned"))))
    assert error_of(answer) == expected
    assert own_values(runtime) == before


def test_write_property_multiple_is_denied(runtime, peer):
    before = own_values(runtime)
    answer = peer.ask(WritePropertyMultipleRequest(listOfWriteAccessSpecs=[
        WriteAccessSpecification(objectIdentifier=peer.device, listOfProperties=[
            PropertyValue(propertyIdentifier="objectName", value=Any(CharacterString("pwned"))),
            PropertyValue(propertyIdentifier="maxApduLengthAccepted", value=Any(Unsigned(50))),
        ])]))
    assert isinstance(answer, WritePropertyMultipleError)
    assert error_of(answer) == ("property", "write-access-denied")
    attempt = answer.firstFailedWriteAttempt
    assert (attempt.objectIdentifier, str(attempt.propertyIdentifier)) == (peer.device, "object-name")
    assert own_values(runtime) == before


def test_an_empty_write_property_multiple_is_rejected(runtime, peer):
    answer = peer.ask(WritePropertyMultipleRequest(listOfWriteAccessSpecs=[
        WriteAccessSpecification(objectIdentifier=peer.device, listOfProperties=[])]))
    assert isinstance(answer, RejectPDU) and str(answer.apduAbortRejectReason) == "missing-required-parameter"


def test_create_and_delete_object_are_refused(runtime, peer):
    before = set(runtime.app.objectIdentifier)
    created = peer.ask(CreateObjectRequest(
        objectSpecifier=CreateObjectRequestObjectSpecifier(objectType="analog-value")))
    assert isinstance(created, CreateObjectError)
    assert error_of(created) == ("object", "dynamic-creation-not-supported")
    for objid in ("network-port,1", f"device,{runtime.device_instance}"):
        deleted = peer.ask(DeleteObjectRequest(objectIdentifier=ObjectIdentifier(objid)))
        assert error_of(deleted) == ("object", "object-deletion-not-permitted")
    assert error_of(peer.ask(DeleteObjectRequest(objectIdentifier=ObjectIdentifier("analog-value,7")))) == (
        "object", "unknown-object")
    assert set(runtime.app.objectIdentifier) == before


@pytest.mark.parametrize("service", [ADD_LIST_ELEMENT, REMOVE_LIST_ELEMENT])
def test_list_element_changes_are_refused(runtime, loopback_block, service):
    # bacpypes3 0.0.110 cannot decode a Change-List-Error itself: this peer reads the bytes.
    before = own_values(runtime)
    peer = RawPeer(f"127.0.{loopback_block}.41")
    try:
        peer.send(confirmed_request(list_element_request(7, service, runtime.device_instance)),
                  (runtime.host, runtime.port))
        answer, _ = peer.receive()
    finally:
        peer.close()
    # Change-List-Error: errorType [0] {property (2), write-access-denied (40)}, firstFailedElementNumber [1] 0.
    assert answer[6:] == bytes([0x50, 7, service, 0x0E, 0x91, 0x02, 0x91, 40, 0x0F, 0x19, 0x00])
    assert own_values(runtime) == before


@pytest.mark.parametrize("request_factory", [
    lambda: DeviceCommunicationControlRequest(enableDisable="disable"),
    lambda: DeviceCommunicationControlRequest(enableDisable="disable", password=CharacterString("secret")),
    lambda: ReinitializeDeviceRequest(reinitializedStateOfDevice="coldstart"),
])
def test_dcc_and_reinitialize_stay_refused(runtime, peer, request_factory):
    answer = peer.ask(request_factory())
    assert isinstance(answer, RejectPDU) and str(answer.apduAbortRejectReason) == "unrecognized-service"
    # Still talking: the collector answers the next request.
    assert runtime.app.asap.dccEnableDisable == "enable"
    assert peer.read(peer.device, "objectName") == runtime.name


def test_reads_and_discovery_of_the_collector_still_work(runtime, peer):
    assert peer.read(peer.device, "objectName") == runtime.name
    answer = peer.ask(ReadPropertyMultipleRequest(listOfReadAccessSpecs=[ReadAccessSpecification(
        objectIdentifier=peer.device,
        listOfPropertyReferences=[PropertyReference(propertyIdentifier="maxApduLengthAccepted")])]))
    assert isinstance(answer, ReadPropertyMultipleACK)

    async def who_is():
        return await peer.app.who_is(runtime.device_instance, runtime.device_instance, address=peer.collector,
                                     timeout=ANSWER_TIMEOUT)

    async def who_has():
        # bacpypes3 collects I-Haves until the timeout: keep it short.
        return await peer.app.who_has(object_name=CharacterString(runtime.name), address=peer.collector,
                                      timeout=0.3)

    [i_am] = peer.run(who_is())
    assert i_am.iAmDeviceIdentifier == peer.device
    [i_have] = peer.run(who_has())
    assert i_have.objectName == runtime.name


def test_services_supported_advertises_only_what_is_executed(runtime, peer):
    supported = peer.read(peer.device, "protocolServicesSupported")
    assert supported[supported.readProperty] == 1 and supported[supported.readPropertyMultiple] == 1
    for refused in ("writeProperty", "writePropertyMultiple", "createObject", "deleteObject", "addListElement",
                    "removeListElement", "deviceCommunicationControl", "reinitializeDevice"):
        assert supported[getattr(supported, refused)] == 0, refused
