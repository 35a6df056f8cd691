"""The one BACnet application of a process, on its own asyncio loop thread.

bacpypes3 is asyncio-only and its socket must be owned by one application per interface: several
applications on one port would steal each other's replies. So a process (worker, gateway,
all-in-one, CLI) starts exactly one :class:`BACnetRuntime`; worker threads submit coroutines to its
loop with :meth:`BACnetRuntime.call` and wait with a timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import ipaddress
import logging
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bacpypes3.app import Application
from bacpypes3.basetypes import HostNPort, IPMode
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject

from bacnet.errors import BindError, RuntimeNotRunning
from bacnet.foreign import MAX_TTL, RegistrationStatus, foreign_link
from bacnet.links import CollectorApplication

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Vendor identifier our own device object announces. 999 is not assigned to any vendor; tools
#: show it as unknown, which is honest for a data collector.
OWN_VENDOR_ID = 999
#: Our application accepts the largest BACnet/IP APDU and segmented answers, so segmenting
#: devices can return long object lists and big ReadPropertyMultiple results in one request.
OWN_MAX_APDU = 1476
#: How long the socket may take to come up before start() gives up.
BIND_TIMEOUT = 5.0
#: Default time-to-live of a foreign-device registration (seconds); re-registered at half of it.
DEFAULT_BBMD_TTL = 300


def check_port_free(host: str, port: int) -> None:
    """Raise BindError with a readable reason if ``host:port`` cannot be bound exclusively.

    bacpypes3 binds with SO_REUSEPORT and retries a failed bind forever in the background, so a
    port clash or a mistyped address would otherwise look like a network with no devices.
    Binding once ourselves *without* SO_REUSEPORT turns both into an immediate, clear error.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise BindError(
                f"port {port} on {host} is already in use by another BACnet application"
            ) from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise BindError(
                f"address {host} is not configured on any interface of this host (check BACNET_ADDRESS)"
            ) from None
        if error.errno == errno.EACCES:
            raise BindError(f"not allowed to bind {host}:{port}: {error.strerror}") from None
        raise BindError(f"cannot bind {host}:{port}: {error.strerror}") from None
    finally:
        probe.close()


def _check_bbmd_address(text: str) -> str:
    host, sep, port = text.strip().partition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"BBMD address {text!r} is not an IPv4 address[:port]") from None
    if sep and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"BBMD address {text!r}: port must be a number from 1 to 65535")
    return text.strip()


class BACnetRuntime:
    """Owns the loop thread and the bacpypes3 Application bound to ``host/prefix:port``.

    With ``bbmd_address`` (``IPv4[:port]``) the port runs as a foreign device registered with
    that BBMD for ``bbmd_ttl`` seconds, re-registering before the TTL runs out; see
    :attr:`registration_status`. The BBMD is then the one host whose BVLC Forwarded-NPDUs are
    believed; without one, none are (:mod:`bacnet.forwarded`).
    """

    def __init__(self, host: str, prefix: int, port: int, *, device_instance: int = 3056999,
                 name: str = "bacnet-pipeline", request_timeout: float = 3.0,
                 bbmd_address: str | None = None, bbmd_ttl: int = DEFAULT_BBMD_TTL) -> None:
        self.host = host
        self.prefix = prefix
        self.port = port
        self.device_instance = device_instance
        self.name = name
        #: Per-request timeout used by the engine's coroutines (seconds).
        self.request_timeout = request_timeout
        #: The BBMD to register with as a foreign device, or None for a normal BACnet/IP port.
        self.bbmd_address = _check_bbmd_address(bbmd_address) if bbmd_address else None
        if not 1 <= bbmd_ttl <= MAX_TTL:
            raise ValueError(f"BBMD TTL must be 1..{MAX_TTL} seconds")
        self.bbmd_ttl = bbmd_ttl
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._app: Application | None = None

    def __repr__(self) -> str:
        foreign = f", foreign device of BBMD {self.bbmd_address}" if self.bbmd_address else ""
        return f"BACnetRuntime({self.host}/{self.prefix}:{self.port}{foreign})"

    @property
    def running(self) -> bool:
        return self._app is not None

    @property
    def app(self) -> Application:
        if self._app is None:
            raise RuntimeNotRunning("the BACnet runtime is not running")
        return self._app

    @property
    def registration_status(self) -> RegistrationStatus | None:
        """The foreign-device registration (None when not a foreign device or not running)."""
        app = self._app
        link = foreign_link(app) if app is not None else None
        return link.status if link is not None else None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeNotRunning("the BACnet runtime is not running")
        return self._loop

    def start(self) -> None:
        """Bind the socket and start the loop thread; raise BindError with a clear reason."""
        if self._app is not None:
            return
        check_port_free(self.host, self.port)
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"bacnet-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        try:
            future = asyncio.run_coroutine_threadsafe(self._build(), loop)
            self._app = future.result(BIND_TIMEOUT + 1)
        except BaseException:
            self._stop_loop()
            raise
        log.info("BACnet application %s bound to %s/%s:%s", self.device_instance, self.host,
                 self.prefix, self.port)
        if self.bbmd_address:
            log.info("registering as a foreign device with BBMD %s (TTL %d s)", self.bbmd_address, self.bbmd_ttl)

    async def _build(self) -> Application:
        device = DeviceObject(
            objectIdentifier=("device", self.device_instance),
            objectName=self.name,
            vendorIdentifier=OWN_VENDOR_ID,
            vendorName="bacnet-pipeline",
            modelName="bacnet-pipeline collector",
            maxApduLengthAccepted=OWN_MAX_APDU,
            segmentationSupported="segmentedBoth",
        )
        port = NetworkPortObject(f"{self.host}/{self.prefix}:{self.port}",
                                 objectIdentifier=("network-port", 1), objectName="NetworkPort-1")
        if self.bbmd_address:
            port.bacnetIPMode = IPMode.foreign
            port.fdBBMDAddress = HostNPort(self.bbmd_address)
            port.fdSubscriptionLifetime = self.bbmd_ttl
        app = CollectorApplication.from_object_list([device, port])
        link = foreign_link(app)
        if link is not None:
            # Its first registration is sent once this coroutine yields; wait for the BBMD's
            # answer as long as for any other request.
            link.answer_timeout = self.request_timeout
        # A short-lived process that always starts its invoke ids at 0 can be answered from a
        # device's reply cache with the previous process's answer; start somewhere random.
        app.next_invoke_id = random.randrange(256)
        for link_layer in app.link_layers.values():
            server = getattr(link_layer, "server", None)
            ready = getattr(server, "_local_transport_ready", None)
            if ready is not None:
                try:
                    await asyncio.wait_for(ready.wait(), BIND_TIMEOUT)
                except asyncio.TimeoutError:
                    app.close()
                    raise BindError(
                        f"the BACnet socket on {self.host}:{self.port} did not come up within {BIND_TIMEOUT:.0f} s"
                    ) from None
        return app

    def call(self, make: Callable[[Application], Awaitable[T]], timeout: float) -> T:
        """Run ``make(app)`` on the loop thread and wait at most ``timeout`` seconds for it.

        The coroutine enforces its own per-request timeouts; this outer bound only protects the
        calling thread from a coroutine that never finishes. On timeout the coroutine is
        cancelled and :class:`TimeoutError` is raised.
        """
        app = self.app
        future = asyncio.run_coroutine_threadsafe(make(app), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"BACnet operation did not finish within {timeout:.1f} s") from None

    def stop(self) -> None:
        """Close the socket and stop the loop thread. Safe to call twice."""
        app, self._app = self._app, None
        if app is not None and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(app.close)
            except RuntimeError:
                pass  # loop already closed
        self._stop_loop()

    def _stop_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> BACnetRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
