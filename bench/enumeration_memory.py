"""How much memory does a worker keep after enumerating a large device? RSS before and after.

    python -m bench.enumeration_memory [--objects 20000] [--rounds 2] [--no-release]

A simulated device with ``--objects`` objects (its device object and network port included)
runs in a child process on 127.77.1.20; this process enumerates it with the product's Engine
(``list_points``: object list by index, then names, descriptions, units, priority arrays) and
prints its own resident memory before, after each round (the result dropped) and at its peak.
``--no-release`` skips the engine's memory release after a large enumeration, for comparison.
The last line printed is one JSON object.

The simulated device answers object-list indexes from its list directly: bacpypes3's own device
object re-casts the whole list for every element, which would make a 20,000-object device take
many minutes per enumeration. Bounded: each round is bounded by the engine's own deadline.
Linux only (reads /proc/self/statm). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time

#: Loopback addresses: ours and the simulated device's (outside the test suite's 127.0.x blocks).
OWN, DEVICE = "127.77.1.1", "127.77.1.20"
#: Instance of the simulated device.
INSTANCE = 9001
#: Seconds the child may take to build its objects (bacpypes3 builds ~500 a second).
BUILD_TIMEOUT = 900


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def serve(points: int) -> None:
    """The child: one segmenting simulated device of ``points`` points, until stdin closes."""
    from bacpypes3.local.device import DeviceObject
    from bacpypes3.primitivedata import Unsigned

    from bacnet.simulator.device import SimulatedDevice
    from bacnet.simulator.profiles import profile_for

    class FastListDevice(DeviceObject):
        async def read_property(self, attr, index=None):  # type: ignore[override]
            name = attr if isinstance(attr, str) else self._property_identifier_class(attr).attr
            if name == "objectList" and index is not None:
                objects = self.objectList
                return Unsigned(len(objects)) if index == 0 else objects[index - 1]
            return await super().read_property(attr, index)

    class BigDevice(SimulatedDevice):
        def make_device_object(self) -> DeviceObject:
            plain = super().make_device_object()
            return FastListDevice(**{name: getattr(plain, name) for name in (
                "objectIdentifier", "objectName", "vendorIdentifier", "vendorName", "modelName", "firmwareRevision",
                "applicationSoftwareVersion", "protocolRevision", "maxApduLengthAccepted", "segmentationSupported")})

    device = BigDevice(name="BIG-1", instance=INSTANCE, host=DEVICE, prefix=8, port=47808, profile=profile_for(0),
                       points=points)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def build() -> None:
        device.build()
        for link_layer in device.app.link_layers.values():
            await asyncio.wait_for(link_layer.server._local_transport_ready.wait(), 5)

    asyncio.run_coroutine_threadsafe(build(), loop).result(BUILD_TIMEOUT)
    print("ready", flush=True)
    sys.stdin.read()


def measure(objects: int, rounds: int, release: bool) -> dict:
    import bacnet.engine
    from bacnet.engine import Engine
    from bacnet.runtime import BACnetRuntime
    from bacnet.types import DeviceTarget

    if not release:
        bacnet.engine.release_memory = lambda: None  # type: ignore[assignment]
    child = subprocess.Popen([sys.executable, "-m", "bench.enumeration_memory", "--serve", str(objects - 2)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    runtime = BACnetRuntime(OWN, 8, 47809, request_timeout=10.0)
    try:
        if child.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit("the simulated device did not start")
        runtime.start()
        # One request in flight: the single simulated device answers one request at a time.
        engine = Engine(runtime, in_flight=1)
        target = DeviceTarget(DEVICE, INSTANCE, 1476, "segmented-both")
        engine.read_values([(target, [("analog-input", 1)])])
        gc.collect()
        base = rss_mb()
        print(f"baseline RSS {base:.1f} MB")
        after = []
        for number in range(rounds):
            started = time.monotonic()
            [listed] = engine.list_points([target])
            outcome = f"{len(listed)} points" if isinstance(listed, list) else f"error: {listed}"
            del listed
            after.append(round(rss_mb() - base, 1))
            print(f"round {number + 1}: {outcome} in {time.monotonic() - started:.0f} s, RSS base {after[-1]:+} MB")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
        return {"objects": objects, "release": release, "baseline_mb": round(base, 1), "after_mb": after,
                "peak_mb": round(peak, 1)}
    finally:
        runtime.stop()
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000, help="objects of the device (3..50000)")
    parser.add_argument("--rounds", type=int, default=2, help="enumerations in a row (1..10)")
    parser.add_argument("--no-release", action="store_true", help="skip the engine's memory release")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if not 3 <= args.objects <= 50000 or not 1 <= args.rounds <= 10:
        parser.error("--objects must be 3..50000 and --rounds 1..10")
    print(json.dumps(measure(args.objects, args.rounds, not args.no_release)))


if __name__ == "__main__":
    main()
