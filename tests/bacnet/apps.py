"""bacpypes3 applications the discovery tests start themselves: a BBMD, a router, a routed device.

Each runs on its own asyncio loop thread (:class:`AppThread`), like the simulator, and is closed
by the fixture that started it. Nothing here binds anything but the addresses it is given.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bacpypes3.app import Application
from bacpypes3.basetypes import BDTEntry, EngineeringUnits, IPMode
from bacpypes3.local.analog import AnalogInputObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.vlan import VirtualNetwork

#: Seconds a helper application may take to bind its sockets.
START_TIMEOUT = 10.0


class AppThread:
    """An asyncio loop thread running applications built by ``build()`` (called on the loop)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.apps: list[Application] = []
        self._cleanups: list[Callable[[], None]] = []

    def start(self, build: Callable[[], Any]) -> Any:
        self.thread.start()

        async def run() -> Any:
            result = build()
            for app in self.apps:
                for link_layer in app.link_layers.values():
                    server = getattr(link_layer, "server", None)
                    ready = getattr(server, "_local_transport_ready", None)
                    if ready is not None:
                        await asyncio.wait_for(ready.wait(), START_TIMEOUT)
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(START_TIMEOUT + 2)

    def call(self, func: Callable[[], Any]) -> Any:
        """Run a plain function on the loop thread (to touch the applications' state safely)."""

        async def run() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def on_stop(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def stop(self) -> None:
        async def shutdown() -> None:
            for app in self.apps:
                app.close()
            for cleanup in self._cleanups:
                cleanup()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


def device_object(instance: int, name: str) -> DeviceObject:
    return DeviceObject(objectIdentifier=("device", instance), objectName=name, vendorIdentifier=999,
                        vendorName="bacnet-pipeline tests", modelName=f"{name} model",
                        maxApduLengthAccepted=1476, segmentationSupported="segmented-both")


def build_bbmd(thread: AppThread, address: str, prefix: int, instance: int) -> Application:
    """A BBMD at ``address/prefix:47808`` whose BDT holds itself (so it broadcasts what it distributes)."""
    port = NetworkPortObject(f"{address}/{prefix}:47808", objectIdentifier=("network-port", 1),
                             objectName="NetworkPort-1")
    port.bacnetIPMode = IPMode.bbmd
    port.bbmdAcceptFDRegistrations = True
    port.bbmdForeignDeviceTable = []
    port.bbmdBroadcastDistributionTable = [BDTEntry(f"{address}:47808")]
    app = Application.from_object_list([device_object(instance, f"BBMD-{instance}"), port])
    thread.apps.append(app)
    return app


def build_router(thread: AppThread, address: str, prefix: int, ip_network: int, vlan_name: str,
                 vlan_network: int, instance: int) -> Application:
    """A BACnet router between BACnet/IP (``address``, network ``ip_network``) and a virtual network."""
    VirtualNetwork(vlan_name)
    thread.on_stop(lambda: VirtualNetwork._networks.pop(vlan_name, None))
    ip_port = NetworkPortObject(f"{address}/{prefix}:47808", objectIdentifier=("network-port", 1),
                                objectName="NetworkPort-1", networkNumber=ip_network,
                                networkNumberQuality="configured")
    vlan_port = _vlan_port(2, vlan_name, vlan_network, mac=1)
    app = Application.from_object_list([device_object(instance, f"Router-{instance}"), ip_port, vlan_port])
    thread.apps.append(app)
    return app


def build_vlan_device(thread: AppThread, vlan_name: str, mac: int, instance: int,
                      values: dict[int, float]) -> Application:
    """A device on the virtual network with one analog input per entry of ``values``."""
    objects: list = [device_object(instance, f"Routed-{instance}"), _vlan_port(1, vlan_name, 0, mac=mac)]
    for number, value in values.items():
        objects.append(AnalogInputObject(objectIdentifier=("analog-input", number), objectName=f"AI {number}",
                                         presentValue=value, units=EngineeringUnits("degrees-celsius")))
    app = Application.from_object_list(objects)
    thread.apps.append(app)
    return app


def _vlan_port(number: int, vlan_name: str, network: int, mac: int) -> NetworkPortObject:
    return NetworkPortObject(
        objectIdentifier=("network-port", number), objectName=f"NetworkPort-{number}",
        networkType="virtual", protocolLevel="bacnet-application", networkInterfaceName=vlan_name,
        macAddress=bytes([mac]), networkNumber=network,
        networkNumberQuality="configured" if network else "unknown",
    )


#: Present values of the routed device's analog inputs.
ROUTED_VALUES = {1: 21.5, 2: 30.25}
#: MAC of the routed device on the virtual network.
ROUTED_MAC = 12


@dataclass
class RoutedSite:
    router_address: str
    router_instance: int
    network: int
    device_instance: int

    @property
    def device_address(self) -> str:
        return f"{self.network}:{ROUTED_MAC}"


def start_routed_site(host: str) -> tuple[AppThread, RoutedSite]:
    """A router at ``host``:47808 and a device behind it; random numbers so parallel runs never meet."""
    ip_network = random.randrange(1000, 30000)
    site = RoutedSite(router_address=host, router_instance=random.randrange(100_000, 4_000_000),
                      network=ip_network + random.randrange(1, 30000), device_instance=0)
    site.device_instance = site.router_instance + 1
    vlan = f"bp-test-{uuid.uuid4().hex[:8]}"
    thread = AppThread("bacnet-test-router")

    def build() -> None:
        build_router(thread, host, 8, ip_network, vlan, site.network, site.router_instance)
        build_vlan_device(thread, vlan, ROUTED_MAC, site.device_instance, ROUTED_VALUES)

    thread.start(build)
    return thread, site
