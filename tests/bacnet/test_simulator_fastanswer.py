"""The simulator's fast present-value answers are bacpypes3's answers, byte for byte, and the
collector's fast decoder reads them (and stock answers) to the same values."""

from __future__ import annotations

import asyncio

import pytest
from bacpypes3.apdu import ReadPropertyMultipleRequest
from bacpypes3.basetypes import PropertyIdentifier, PropertyReference, ReadAccessSpecification
from bacpypes3.pdu import PDU, Address
from bacpypes3.primitivedata import ObjectIdentifier, Real

from bacnet import fastread
from bacnet.fastrpm import decode_ack, encode_request
from bacnet.simulator import fastanswer
from bacnet.simulator.device import store_present_value
from bacnet.simulator.fastanswer import FastAnswerServiceAccessPoint, answer_data, parse_request
from bacnet.simulator.runner import Simulator
from bacnet.types import DeviceTarget
from bacnet.values import real_number
from tests.bacnet.test_reading import simulated


@pytest.fixture
def sim(loopback_block):
    with simulated(loopback_block, points=60) as simulator:
        yield simulator


def on_loop(sim: Simulator, coroutine):
    return asyncio.run_coroutine_threadsafe(coroutine, sim._loop).result(10)


def point_refs(sim: Simulator) -> list[tuple[str, int]]:
    return [(str(objid[0]), int(objid[1])) for objid in sim.devices[0].app.objectIdentifier
            if str(objid[0]) not in ("device", "network-port")]


def request_data(refs, prop: str = "presentValue") -> bytes:
    return encode_request([(ref, prop, None) for ref in refs])


def stock_answer(sim: Simulator, refs) -> bytes:
    """The service data bacpypes3's own handler answers for ``refs``' present values."""
    app = sim.devices[0].app
    request = ReadPropertyMultipleRequest(listOfReadAccessSpecs=[
        ReadAccessSpecification(objectIdentifier=ObjectIdentifier(f"{kind},{instance}"),
                                listOfPropertyReferences=[PropertyReference(
                                    propertyIdentifier=PropertyIdentifier("present-value"))])
        for kind, instance in refs
    ])
    request.apduInvokeID = 7
    request.pduSource = Address("127.0.0.1")
    answers: list = []

    async def capture(apdu) -> None:
        answers.append(apdu)

    async def run() -> None:
        original = app.response
        app.response = capture
        try:
            await app.do_ReadPropertyMultipleRequest(request)
        finally:
            app.response = original

    on_loop(sim, run())
    [answer] = answers
    return bytes(answer.encode().pduData)


def confirmed_request(data: bytes, *, max_apdu_code: int = 5, segmented: bool = False) -> PDU:
    header = bytes([0x08 if segmented else 0x00, max_apdu_code, 9, fastanswer.READ_PROPERTY_MULTIPLE])
    return PDU(header + data, source=Address("127.0.0.1:47809"))


def test_fast_answer_is_byte_for_byte_what_bacpypes3_answers(sim):
    refs = point_refs(sim)
    assert {kind for kind, _ in refs} == {"analog-input", "analog-value", "binary-value"}
    app = sim.devices[0].app
    assert answer_data(app, parse_request(request_data(refs))) == stock_answer(sim, refs)
    # A commanded setpoint (written the stock way) is answered with its new value, by both.
    setpoint = next(obj for obj in app.objectIdentifier.values() if str(obj.objectIdentifier[0]) == "analog-value")
    on_loop(sim, asyncio.sleep(0))
    setpoint.presentValue = Real(17.25)
    assert answer_data(app, parse_request(request_data(refs))) == stock_answer(sim, refs)


@pytest.mark.parametrize("case", ["unknown-object", "other-property", "array-index", "segmented", "too-big",
                                  "silent-device", "no-rpm"])
def test_anything_else_is_answered_the_stock_way(sim, case):
    app = sim.devices[0].app
    refs = point_refs(sim)
    data, options = request_data(refs[:10]), {}
    if case == "unknown-object":
        data = request_data(refs[:5] + [("analog-input", 999)])
    elif case == "other-property":
        data = request_data(refs[:5], "objectName")
    elif case == "array-index":
        data = encode_request([(refs[0], "presentValue", 1)])
    elif case == "segmented":
        options = {"segmented": True}
    elif case == "too-big":
        options = {"max_apdu_code": 0}  # 50 octets: 10 values do not fit
    elif case == "silent-device":
        app.answering = False
    elif case == "no-rpm":
        app.rpm = False
    assert app.asap._fast_ack(confirmed_request(data, **options)) is None
    app.answering, app.rpm = True, True
    assert app.asap._fast_ack(confirmed_request(request_data(refs[:10]))) is not None


def test_store_present_value_is_what_bacpypes3_reads_and_tells_the_monitors(sim):
    app = sim.devices[0].app
    sensor = next(obj for obj in app.objectIdentifier.values() if str(obj.objectIdentifier[0]) == "analog-input")
    seen: list = []
    sensor._property_monitors["presentValue"].append(lambda old, new: seen.append((old, new)))
    old = sensor.presentValue
    store_present_value(sensor, Real(old + 1.5))
    assert sensor.presentValue == Real(old + 1.5)  # bacpypes3's own getter
    assert seen == [(old, Real(old + 1.5))]
    store_present_value(sensor, Real(old + 1.5))  # no change: no notification
    assert len(seen) == 1


def test_collector_reads_fast_and_stock_answers_to_the_device_values(sim, engine, monkeypatch):
    fast_answers: list[int] = []
    original = FastAnswerServiceAccessPoint._fast_ack

    def counting(self, pdu):
        ack = original(self, pdu)
        if ack is not None:
            fast_answers.append(1)
        return ack

    monkeypatch.setattr(FastAnswerServiceAccessPoint, "_fast_ack", counting)
    fast_decodes: list[int] = []

    def decoding(data):
        results = decode_ack(data)
        fast_decodes.append(results is not None)
        return results

    monkeypatch.setattr(fastread, "decode_ack", decoding)
    device = sim.devices[0]
    refs = point_refs(sim)
    target = DeviceTarget(device.address, device.instance, max_apdu=device.max_apdu,
                          segmentation=device.segmentation)
    sim._loop.call_soon_threadsafe(sim._updater.cancel)  # values hold still while both reads run
    on_loop(sim, asyncio.sleep(0.05))

    def expected() -> dict:
        values = {}
        for kind, instance in refs:
            raw = vars(device.app.get_object_id(ObjectIdentifier(f"{kind},{instance}")))["presentValue"]
            values[(kind, instance)] = real_number(float(raw)) if isinstance(raw, Real) else float(int(raw))
        return values

    [fast] = engine.read_values([(target, refs)])
    assert fast_answers, "the simulator answered the fast way"
    assert fast_decodes and all(fast_decodes), "the collector decoded every answer the fast way"
    assert fast.errors == {} and {ref: value.number for ref, value in fast.values.items()} == expected()
    device.app.rpm = False  # stock answers (ReadProperty) from here on
    count = len(fast_answers)
    [stock] = engine.read_values([(target, refs)])
    assert len(fast_answers) == count
    assert stock.values == fast.values and stock.errors == {}


def test_a_slow_device_answers_fast_reads_late_and_counts_them(sim, engine):
    device = sim.devices[0]
    device.app.latency = 0.05
    target = DeviceTarget(device.address, device.instance, max_apdu=device.max_apdu,
                          segmentation=device.segmentation)
    [outcome] = engine.read_values([(target, point_refs(sim))])
    assert outcome.errors == {} and len(outcome.values) == 60
    assert outcome.elapsed >= 0.05  # every answer waited for the device's latency
    # One request (60 values fit one answer), counted while it waited.
    assert device.requests.total == 1 and device.requests.peak == 1 and device.requests.current == 0
