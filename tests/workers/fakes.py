"""A scripted engine and an in-process worker around it, for actor tests without BACnet traffic.

The real engine cleans what devices send (bacnet/); this one hands the actors whatever a test
scripts, e.g. values a database refuses, to show the actors' isolation holds even then.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import dramatiq
from flask import Flask

from app.transport import LOCAL_BROKER_KEY
from bacnet.errors import BACnetError
from bacnet.types import DeviceInfo, DeviceTarget, IAm, ObjectInfo, ObjectRef, ReadOutcome, Value
from workers.broker import make_broker
from workers.context import WorkerContext
from workers.registry import register_actors


@dataclass
class ScriptedEngine:
    """Answers per device address: discovery infos, point lists and present values."""

    #: What discover() finds: DeviceInfo, or (IAm, BACnetError) for a device whose reads failed.
    found: list[DeviceInfo | tuple[IAm, BACnetError]] = field(default_factory=list)
    #: Point list per address (or the error listing it).
    points: dict[str, list[ObjectInfo] | BACnetError] = field(default_factory=dict)
    #: Present values per address, by object; a str entry is the device's error (it did not answer).
    values: dict[str, dict[ObjectRef, Value] | str] = field(default_factory=dict)
    reads: int = 0

    def discover(self, targets: Sequence[str], **_options: object
                 ) -> tuple[list[DeviceInfo], list[tuple[IAm, BACnetError]]]:
        infos = [item for item in self.found if isinstance(item, DeviceInfo)]
        failed = [item for item in self.found if isinstance(item, tuple)]
        return infos, failed

    def list_points(self, targets: Sequence[DeviceTarget]) -> list[list[ObjectInfo] | BACnetError]:
        return [self.points.get(target.address, BACnetError("no answer within 1 s")) for target in targets]

    def read_values(self, requests: Sequence[tuple[DeviceTarget, Sequence[ObjectRef]]]) -> list[ReadOutcome]:
        self.reads += 1
        outcomes = []
        for target, refs in requests:
            values = self.values.get(target.address, "no answer within 1 s")
            if isinstance(values, str):
                outcomes.append(ReadOutcome(target=target, device_error=values))
                continue
            outcomes.append(ReadOutcome(target=target, values={ref: values[ref] for ref in refs if ref in values},
                                        errors={ref: "error: unknown-object" for ref in refs if ref not in values},
                                        read_at=time.time()))
        return outcomes


def iam(instance: int, address: str) -> IAm:
    return IAm(device_instance=instance, address=address, vendor_id=999, max_apdu=1476,
               segmentation="segmented-both")


@contextmanager
def scripted_worker(app: Flask, engine: ScriptedEngine) -> Iterator[dramatiq.Broker]:
    """The catalog's actors on an in-process broker, with ``engine`` as their BACnet engine:
    jobs enqueued through the app's transport run here, through the job ledger middleware."""
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    register_actors(broker, WorkerContext(app=app, engine=engine))  # type: ignore[arg-type]
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        yield broker
    finally:
        worker.stop(timeout=5000)


def i_am_frame(instance: int, vendor_id: int = 999) -> bytes:
    """A BACnet/IP I-Am (BVLC Original-Unicast-NPDU), encoded by hand: what any host can send."""
    apdu = bytes([0x10, 0x00,  # unconfirmed request, I-Am
                  0xC4, *((8 << 22) | instance).to_bytes(4, "big"),  # device object identifier
                  0x22, *(1476).to_bytes(2, "big"),  # max APDU length accepted (unsigned)
                  0x91, 0x00,  # segmentation supported: segmented-both (enumerated)
                  0x22, *vendor_id.to_bytes(2, "big")])  # vendor id (unsigned)
    npdu = bytes([0x01, 0x00]) + apdu
    return bytes([0x81, 0x0A]) + (4 + len(npdu)).to_bytes(2, "big") + npdu


def send_i_am(source: str, destination: tuple[str, int], instance: int) -> None:
    """Send an unsolicited I-Am for ``instance`` from ``source`` (a loopback host, port 47808)."""
    assert source.startswith("127."), "loopback only"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 47808))
        sock.sendto(i_am_frame(instance), destination)
