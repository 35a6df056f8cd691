"""Run many simulated devices in one process, on one asyncio loop thread."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from typing import Self

from bacnet.runtime import check_port_free
from bacnet.simulator.device import SimulatedDevice
from bacnet.simulator.profiles import device_name, profile_for

log = logging.getLogger(__name__)

#: Seconds between value updates of the simulated sensors.
UPDATE_INTERVAL = 1.0
#: The loopback network. Simulated devices refuse other addresses: they are for tests and demos,
#: and a simulator answering Who-Is on a building LAN would confuse the real site.
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def device_addresses(base_address: str, count: int) -> list[str]:
    """``count`` consecutive addresses starting at ``base_address``, all on loopback."""
    try:
        first = ipaddress.IPv4Address(base_address)
    except ValueError:
        raise ValueError(f"base address {base_address!r} is not an IPv4 address") from None
    addresses = [first + i for i in range(count)]
    for address in addresses:
        if address not in LOOPBACK or str(address).endswith((".0", ".255")):
            raise ValueError(f"simulated device address {address} must be a loopback host address (127.x.y.z)")
    return [str(address) for address in addresses]


class DeviceRunner:
    """Simulated devices on one asyncio loop thread; ``start()`` returns once every socket is bound.

    :class:`Simulator` deals a realistic site; the hostile profile
    (:class:`bacnet.simulator.hostile.HostileSite`) builds its own list of devices.
    """

    def __init__(self, devices: list[SimulatedDevice]) -> None:
        if not devices:
            raise ValueError("at least one simulated device is needed")
        self.devices = devices
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._updater: asyncio.Task | None = None

    @property
    def addresses(self) -> list[str]:
        return [device.address for device in self.devices]

    def device(self, instance: int) -> SimulatedDevice:
        for device in self.devices:
            if device.instance == instance:
                return device
        raise KeyError(instance)

    def start(self) -> None:
        for device in self.devices:
            check_port_free(device.host, device.port)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="bacnet-simulator", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._build(), loop).result(60)
        log.info("simulating %d devices on %s..%s", len(self.devices), self.devices[0].address,
                 self.devices[-1].address)

    async def _build(self) -> None:
        for device in self.devices:
            device.build()
        for device in self.devices:
            for link_layer in device.app.link_layers.values():
                await asyncio.wait_for(link_layer.server._local_transport_ready.wait(), 5)
        self._updater = asyncio.create_task(self._update_forever())

    async def _update_forever(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_INTERVAL)
            now = time.time()
            for device in self.devices:
                device.update(now)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def shutdown() -> None:
            if self._updater is not None:
                self._updater.cancel()
            for device in self.devices:
                device.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Simulator(DeviceRunner):
    """N simulated devices of a realistic site (air handlers, VAV boxes, meters)."""

    def __init__(self, devices: int, points: int, *, base_address: str = "127.0.0.10",
                 first_instance: int = 1001, port: int = 47808, prefix: int = 8, max_apdu: int = 1476,
                 segmentation: str = "segmented-both", latency_ms: float = 0.0, rpm: bool = True) -> None:
        if devices < 1:
            raise ValueError("at least one simulated device is needed")
        if not 1 <= points <= 5000:
            raise ValueError("points per device must be 1..5000")
        if not 0 <= first_instance <= 4194302 - devices:
            raise ValueError("first instance must leave room for every device below 4194303")
        super().__init__([
            SimulatedDevice(name=device_name(i), instance=first_instance + i, host=host, prefix=prefix,
                            port=port, profile=profile_for(i), points=points, max_apdu=max_apdu,
                            segmentation=segmentation, latency_ms=latency_ms, rpm=rpm)
            for i, host in enumerate(device_addresses(base_address, devices))
        ])
