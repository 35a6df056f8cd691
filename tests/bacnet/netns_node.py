"""One BACnet role inside a network namespace, for tests/bacnet/test_netns_discovery.py.

Run as ``ip netns exec NS python -m tests.bacnet.netns_node ROLE ...`` from the repository root.
For test networks only: it binds whatever address it is given (the simulator's own CLI refuses
anything but loopback, which is right everywhere else).

- ``devices``: simulated devices on consecutive addresses; prints ``ready`` and runs until its
  stdin closes (so it also ends when the test process dies).
- ``bbmd``: a BBMD whose BDT holds itself; same lifetime.
- ``discover``: our runtime and engine (optionally as a foreign device), one discovery, then one
  JSON line on stdout: ``{"found": [...], "failed": [...], "registration": {...} | null}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import sys

from bacnet.engine import Engine
from bacnet.foreign import foreign_link
from bacnet.runtime import BACnetRuntime
from bacnet.simulator.device import SimulatedDevice
from bacnet.simulator.profiles import device_name, profile_for
from tests.bacnet.apps import AppThread, build_bbmd

#: Longest a helper waits for a foreign-device registration before discovering anyway (seconds).
REGISTRATION_WAIT = 10.0


def _serve_until_stdin_closes(stop) -> None:
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        stop()


def run_devices(args: argparse.Namespace) -> None:
    first = ipaddress.IPv4Address(args.base)
    devices = [SimulatedDevice(name=device_name(i), instance=args.first_instance + i, host=str(first + i),
                               prefix=args.prefix, port=47808, profile=profile_for(i), points=4)
               for i in range(args.count)]
    thread = AppThread("netns-devices")

    def build() -> None:
        for device in devices:
            device.build()
            thread.apps.append(device.app)

    thread.start(build)
    _serve_until_stdin_closes(thread.stop)


def run_bbmd(args: argparse.Namespace) -> None:
    thread = AppThread("netns-bbmd")
    thread.start(lambda: build_bbmd(thread, args.address, args.prefix, args.instance))
    _serve_until_stdin_closes(thread.stop)


def run_discover(args: argparse.Namespace) -> None:
    host, _, rest = args.bind.partition("/")
    prefix, _, port = rest.partition(":")
    runtime = BACnetRuntime(host, int(prefix), int(port or 47808), request_timeout=1.0,
                            bbmd_address=args.bbmd, bbmd_ttl=args.ttl)
    runtime.start()
    try:
        if args.bbmd:
            # Discovery itself waits only its timeout for the registration; give it a head start.
            runtime.call(lambda app: foreign_link(app).wait_registered(REGISTRATION_WAIT), REGISTRATION_WAIT + 2)
        found, failed = Engine(runtime).discover(args.target, low_limit=args.low, high_limit=args.high,
                                                 timeout=args.timeout)
        status = runtime.registration_status
        print(json.dumps({
            "found": [dataclasses.asdict(info) for info in found],
            "failed": [[iam.device_instance, str(error)] for iam, error in failed],
            "registration": dataclasses.asdict(status) if status else None,
        }), flush=True)
    finally:
        runtime.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="netns_node")
    roles = parser.add_subparsers(dest="role", required=True)
    devices = roles.add_parser("devices")
    devices.add_argument("--base", required=True)
    devices.add_argument("--prefix", type=int, required=True)
    devices.add_argument("--count", type=int, default=3)
    devices.add_argument("--first-instance", type=int, required=True)
    bbmd = roles.add_parser("bbmd")
    bbmd.add_argument("--address", required=True)
    bbmd.add_argument("--prefix", type=int, required=True)
    bbmd.add_argument("--instance", type=int, default=4_100_000)
    discover = roles.add_parser("discover")
    discover.add_argument("--bind", required=True, help="address/prefix[:port]")
    discover.add_argument("--target", action="append", required=True)
    discover.add_argument("--bbmd")
    discover.add_argument("--ttl", type=int, default=60)
    discover.add_argument("--low", type=int)
    discover.add_argument("--high", type=int)
    discover.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    {"devices": run_devices, "bbmd": run_bbmd, "discover": run_discover}[args.role](args)


if __name__ == "__main__":
    main()
