"""Simulated devices in a child process, so the measured client and the devices never share a GIL.

On a 2-core machine the client and the simulator each get a core; in one process they would take
turns on one interpreter lock and every measurement would also measure the simulator.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection

#: Seconds the child may take to bind every device socket.
START_TIMEOUT = 60.0
#: Seconds the child may take to close its sockets before it is terminated.
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class SimDevice:
    """What a benchmark client needs to know about one simulated device."""

    address: str
    instance: int
    max_apdu: int
    segmentation: str
    #: Every point object of the device as (hyphenated type, instance), in object-list order.
    refs: tuple[tuple[str, int], ...]


def _child(conn: Connection, devices: int, points: int, base_address: str, first_instance: int,
           latency_ms: float, max_apdu: int, segmentation: str) -> None:
    # Imported here: the spawned child starts from a fresh interpreter.
    import logging

    from bacnet.simulator.runner import Simulator

    logging.basicConfig(level=logging.WARNING)
    try:
        simulator = Simulator(devices, points, base_address=base_address, first_instance=first_instance,
                              latency_ms=latency_ms, max_apdu=max_apdu, segmentation=segmentation)
        simulator.start()
    except BaseException as error:  # report any startup failure to the parent, then exit
        conn.send(("error", f"{type(error).__name__}: {error}"))
        return
    try:
        described = []
        for device in simulator.devices:
            refs = tuple((str(objid[0]), int(objid[1])) for objid in device.app.objectIdentifier
                         if str(objid[0]) not in ("device", "network-port"))
            described.append(SimDevice(device.address, device.instance, max_apdu, segmentation, refs))
        conn.send(("ready", described))
        conn.recv()  # any message (or the parent going away: EOFError) means stop
    except (EOFError, OSError):
        pass
    finally:
        simulator.stop()


class SimulatorProcess:
    """``devices`` x ``points`` simulated devices on ``base_address`` and up, in a spawned child."""

    def __init__(self, devices: int, points: int, *, base_address: str, first_instance: int = 4001,
                 latency_ms: float = 0.0, max_apdu: int = 1476, segmentation: str = "segmented-both") -> None:
        self.args = (devices, points, base_address, first_instance, latency_ms, max_apdu, segmentation)
        self.devices: list[SimDevice] = []
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> list[SimDevice]:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_child, args=(child, *self.args), name="bench-simulator",
                                        daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT:.0f} s")
        try:
            status, payload = parent.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("the simulator process died while starting") from None
        if status != "ready":
            self.stop()
            raise RuntimeError(f"the simulator could not start: {payload}")
        self.devices = payload
        return self.devices

    def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.send("stop")
            except (OSError, ValueError):
                pass
            conn.close()
        process, self._process = self._process, None
        if process is not None:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.terminate()
                process.join(5)

    def __enter__(self) -> list[SimDevice]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
