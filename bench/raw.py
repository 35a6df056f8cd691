"""The stack's practical ceiling: pipelined ReadPropertyMultiple straight on bacpypes3.

No engine, no conversion, no database: a stock bacpypes3 Application on its own loop thread
asks every device for all of its present values at once, ``batch`` per request and ``in_flight``
requests outstanding per device (the best combination measured, see docs/performance.md).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier, PropertyReference
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier
from bacpypes3.vendor import get_vendor_info

from app.settings import parse_bind_address
from bacnet.runtime import check_port_free
from bench.simproc import SimDevice

#: Present values per request and requests in flight per device: the fastest measured on this
#: kind of machine (answers that fit one 1476-byte APDU, a few in flight).
RAW_BATCH = 50
RAW_IN_FLIGHT = 4
#: Seconds one round may take before it counts as failed.
ROUND_TIMEOUT = 60.0


class RawClient:
    """A bacpypes3 application bound to ``host/prefix:port`` on a loop thread of its own."""

    def __init__(self, bind: str, *, batch: int = RAW_BATCH, in_flight: int = RAW_IN_FLIGHT,
                 timeout: float = 3.0) -> None:
        self.bind = bind
        self.batch = batch
        self.in_flight = in_flight
        self.timeout = timeout
        self.vendor = get_vendor_info(0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-raw", daemon=True)
        self._app: Application | None = None

    def start(self) -> None:
        address = parse_bind_address(self.bind)
        check_port_free(address.host, address.port)  # bacpypes3 would share a taken port silently
        self._thread.start()
        self._call(self._build(), 10)

    async def _build(self) -> None:
        device = DeviceObject(objectIdentifier=("device", random.randrange(3_000_000, 3_100_000)),
                              objectName="bench-raw", vendorIdentifier=999, maxApduLengthAccepted=1476,
                              segmentationSupported="segmentedBoth")
        port = NetworkPortObject(self.bind, objectIdentifier=("network-port", 1), objectName="NetworkPort-1")
        self._app = Application.from_object_list([device, port])
        self._app.next_invoke_id = random.randrange(256)
        for link_layer in self._app.link_layers.values():
            await asyncio.wait_for(link_layer.server._local_transport_ready.wait(), 5)

    def _call(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _device(self, device: SimDevice, refs: list) -> int:
        semaphore = asyncio.Semaphore(self.in_flight)
        address = Address(device.address)
        reference = PropertyReference(propertyIdentifier=PropertyIdentifier("presentValue"))

        async def one(chunk: list) -> int:
            parameters: list = []
            for object_id in chunk:
                parameters.extend([object_id, [reference]])
            async with semaphore:
                answer = await asyncio.wait_for(
                    self._app.read_property_multiple(address, parameters, vendor_info=self.vendor), self.timeout)
            return len(answer) if isinstance(answer, list) else 0

        chunks = [refs[i:i + self.batch] for i in range(0, len(refs), self.batch)]
        return sum(await asyncio.gather(*(one(chunk) for chunk in chunks)))

    def read_round(self, devices: list[SimDevice]) -> tuple[int, float]:
        """Every present value of every device once: (values read, seconds)."""
        refs = {device.address: [ObjectIdentifier(f"{t},{i}") for t, i in device.refs] for device in devices}

        async def run() -> int:
            counts = await asyncio.gather(*(self._device(device, refs[device.address]) for device in devices))
            return sum(counts)

        started = time.perf_counter()
        count = self._call(run(), ROUND_TIMEOUT)
        return count, time.perf_counter() - started

    def stop(self) -> None:
        async def close() -> None:
            if self._app is not None:
                self._app.close()

        try:
            self._call(close(), 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
