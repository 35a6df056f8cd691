"""Broadcast discovery on real (virtual) Ethernet, inside network namespaces we create.

Loopback cannot show a plain broadcast on the standard port, nor two IP subnets. Here every
BACnet process runs in a namespace of its own test network (addresses from 198.18.0.0/15, the
benchmarking range), linked by veth pairs that exist only inside those namespaces: nothing is
attached to the host's interfaces, so no packet can leave the machine.

- LAN: collector and devices on one subnet, all on UDP 47808 — stock global and local broadcast.
- Two subnets joined by an IP router (no BACnet router, no directed broadcast): a normal
  collector's broadcast finds nothing; as a foreign device of the site's BBMD it finds everything.

Needs root (CAP_NET_ADMIN). Without it the tests skip — except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: Bound of every ip(8) call and of a helper's start (seconds).
COMMAND_TIMEOUT = 20


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


class Namespaces:
    """Namespaces and veth links with names unique to this run; :meth:`cleanup` deletes them all."""

    def __init__(self) -> None:
        self.prefix = f"bpt-{uuid.uuid4().hex[:6]}"
        self.names: list[str] = []
        self.helpers: list[tuple[subprocess.Popen, IO[str]]] = []

    def add(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        _ip("netns", "add", name)
        self.names.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def link(self, a: str, a_if: str, a_cidrs: list[str], b: str, b_if: str, b_cidrs: list[str]) -> None:
        """A veth pair created directly between two namespaces (it never exists on the host)."""
        _ip("-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
        for ns, ifname, cidrs in ((a, a_if, a_cidrs), (b, b_if, b_cidrs)):
            for cidr in cidrs:
                _ip("-n", ns, "addr", "add", cidr, "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")

    def exec_args(self, ns: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.bacnet.netns_node", *args]

    def start_helper(self, ns: str, *args: str) -> None:
        """A long-running role (devices, bbmd); returns once it printed ``ready``."""
        # stderr to a file: a pipe nobody reads could fill up and stall the helper.
        errors = tempfile.TemporaryFile(mode="w+")
        process = subprocess.Popen(self.exec_args(ns, *args), cwd=REPO, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors, text=True)
        self.helpers.append((process, errors))
        line = _readline(process, COMMAND_TIMEOUT)
        if line.strip() != "ready":
            errors.seek(0)
            raise AssertionError(f"helper {args[0]} in {ns} did not start: {line!r} {errors.read()}")

    def discover(self, ns: str, *args: str) -> dict:
        result = subprocess.run(self.exec_args(ns, "discover", *args), cwd=REPO, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def cleanup(self) -> None:
        for process, errors in self.helpers:
            if process.poll() is None:
                process.stdin.close()  # the helper's signal to stop
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            process.stdout.close()
            errors.close()
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=COMMAND_TIMEOUT)


def _readline(process: subprocess.Popen, timeout: float) -> str:
    """The helper's first line, or "" if it printed none within ``timeout`` (readline alone could block)."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def _missing_capability() -> str | None:
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"bpt-probe-{uuid.uuid4().hex[:6]}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=COMMAND_TIMEOUT)
    return None


@pytest.fixture(scope="module")
def capability() -> None:
    reason = _missing_capability()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true: the namespace tests must run in CI")
    pytest.skip(reason)


@pytest.fixture
def namespaces(capability) -> Iterator[Namespaces]:
    spaces = Namespaces()
    try:
        yield spaces
    finally:
        spaces.cleanup()


def _first_instance() -> int:
    return random.randrange(100_000, 4_000_000)


def _found(result: dict) -> list[tuple[int, str, str]]:
    return [(info["device_instance"], info["address"], info["name"]) for info in result["found"]]


def test_broadcast_discovery_on_a_lan(namespaces):
    collector, site = namespaces.add("col"), namespaces.add("dev")
    namespaces.link(collector, "eth0", ["198.18.10.1/24"], site, "eth0",
                    ["198.18.10.10/24", "198.18.10.11/24", "198.18.10.12/24"])
    first = _first_instance()
    namespaces.start_helper(site, "devices", "--base", "198.18.10.10", "--prefix", "24",
                            "--first-instance", str(first))
    expected = [(first, "198.18.10.10", "AHU-1"), (first + 1, "198.18.10.11", "VAV-1"),
                (first + 2, "198.18.10.12", "VAV-2")]
    for target in ("broadcast", "local-broadcast", "198.18.10.0/28"):
        result = namespaces.discover(collector, "--bind", "198.18.10.1/24", "--target", target, "--timeout", "1")
        assert (_found(result), result["failed"]) == (expected, []), target
        assert result["registration"] is None


def test_foreign_device_discovers_through_the_bbmd_across_an_ip_router(namespaces):
    remote, router, site = namespaces.add("fd"), namespaces.add("rtr"), namespaces.add("site")
    namespaces.link(remote, "eth0", ["198.18.20.2/24"], router, "eth0", ["198.18.20.1/24"])
    namespaces.link(router, "eth1", ["198.18.21.1/24"], site, "eth0",
                    ["198.18.21.2/24", "198.18.21.10/24", "198.18.21.11/24", "198.18.21.12/24"])
    subprocess.run(["ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True,
                   timeout=COMMAND_TIMEOUT)
    _ip("-n", remote, "route", "add", "default", "via", "198.18.20.1")
    _ip("-n", site, "route", "add", "default", "via", "198.18.21.1")
    first = _first_instance()
    namespaces.start_helper(site, "bbmd", "--address", "198.18.21.2", "--prefix", "24",
                            "--instance", str(first + 10))
    namespaces.start_helper(site, "devices", "--base", "198.18.21.10", "--prefix", "24",
                            "--first-instance", str(first))
    limits = ["--low", str(first), "--high", str(first + 2), "--timeout", "1"]

    plain = namespaces.discover(remote, "--bind", "198.18.20.2/24", "--target", "broadcast", *limits)
    assert plain["found"] == []  # an IP router does not pass BACnet broadcasts

    foreign = namespaces.discover(remote, "--bind", "198.18.20.2/24", "--bbmd", "198.18.21.2", "--ttl", "60",
                                  "--target", "broadcast", *limits)
    assert foreign["registration"]["state"] == "registered"
    assert foreign["registration"]["bbmd"] == "198.18.21.2"
    assert _found(foreign) == [(first, "198.18.21.10", "AHU-1"), (first + 1, "198.18.21.11", "VAV-1"),
                               (first + 2, "198.18.21.12", "VAV-2")]
