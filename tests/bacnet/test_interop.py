"""Interop with an independent BACnet stack: a device served by rusty-bacnet (Rust, not bacpypes3)
is discovered, enumerated, read and written by our engine."""

import asyncio
import threading

import pytest

from bacnet.types import DeviceTarget

rb = pytest.importorskip("rusty_bacnet")

#: Enough objects that the object list (5 bytes each) no longer fits one 1476-byte APDU, so a
#: non-segmenting device must be read by index.
MANY = 320
#: UDP port of the rusty-bacnet devices (see RustyDevice for why not 47808).
RUSTY_PORT = 47830


class RustyDevice:
    """A rusty-bacnet server on its own asyncio loop thread."""

    def __init__(self, host: str, port: int, instance: int, analog_inputs: int = 1) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # rusty-bacnet binds its broadcast listener (127.255.255.255:port) exclusively, and the
        # bacpypes3 simulators of other tests share 127.255.255.255:47808: use a port of its own.
        self.server = rb.BACnetServer(device_instance=instance, device_name="Rusty RTU", interface=host,
                                      port=port, broadcast_address="127.255.255.255", share_port_by_address=True)
        for i in range(1, analog_inputs + 1):
            self.server.add_analog_input(i, f"Rusty Temp {i}", units=62, present_value=20.0 + i / 10)
        self.server.add_analog_value(1, "Rusty Setpoint", units=62)
        self.server.add_binary_value(1, "Rusty Fan")

        # rusty-bacnet's awaitables must be created on the loop that runs them.
        async def start():
            await self.server.start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def stop(self) -> None:
        async def stop():
            await self.server.stop()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def rusty(loopback_block):
    device = RustyDevice(f"127.0.{loopback_block}.30", RUSTY_PORT, 4001)
    yield device
    device.stop()


@pytest.fixture
def rusty_big(loopback_block):
    device = RustyDevice(f"127.0.{loopback_block}.31", RUSTY_PORT + 1, 4002, analog_inputs=MANY)
    yield device
    device.stop()


def _target(engine, address):
    found, failed = engine.discover([address], timeout=2)
    assert failed == [] and len(found) == 1
    info = found[0]
    return info, DeviceTarget(info.address, info.device_instance, info.max_apdu, info.segmentation)


def test_discover_enumerate_read_write(engine, rusty, loopback_block):
    info, target = _target(engine, f"127.0.{loopback_block}.30:{RUSTY_PORT}")
    assert (info.device_instance, info.name, info.vendor_name, info.segmentation) == (
        4001, "Rusty RTU", "Rusty BACnet", "no-segmentation")
    [points] = engine.list_points([target])
    assert [(p.object_type, p.object_instance, p.name, p.units, p.commandable) for p in points] == [
        ("analog-input", 1, "Rusty Temp 1", "degrees-celsius", False),
        ("analog-value", 1, "Rusty Setpoint", "degrees-celsius", True),
        ("binary-value", 1, "Rusty Fan", "", True)]
    [outcome] = engine.read_values([(target, [p.ref for p in points] + [("analog-input", 77)])])
    assert outcome.values[("analog-input", 1)].number == pytest.approx(20.1)
    assert outcome.values[("binary-value", 1)].text == "inactive"
    assert outcome.errors == {("analog-input", 77): "error: unknown-object"}
    written = engine.write(target, ("analog-value", 1), 23.5, 10)
    assert written.ok and written.new_value.number == 23.5 and written.priority_array[9].number == 23.5
    assert engine.write(target, ("analog-value", 1), None, 10).ok


def test_long_object_list_of_a_non_segmenting_device_is_read_by_index(engine, rusty_big, loopback_block):
    _, target = _target(engine, f"127.0.{loopback_block}.31:{RUSTY_PORT + 1}")
    assert not target.can_segment
    [points] = engine.list_points([target])
    assert len(points) == MANY + 2
    assert points[-3].name == f"Rusty Temp {MANY}"
    [outcome] = engine.read_values([(target, [p.ref for p in points])])
    assert outcome.ok and len(outcome.values) == MANY + 2 and outcome.errors == {}
    assert outcome.values[("analog-input", MANY)].number == pytest.approx(20.0 + MANY / 10)
