"""The naive baseline: one BAC0 ``read()`` per point, one after the other.

This is what a first script against a site usually looks like. It runs in a spawned child: BAC0's
import loads ``.env`` from the working directory, logs to stdout and keeps class-level tasks, none
of which may leak into the benchmark's own process or output.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection

from bench.simproc import SimDevice

#: Seconds BAC0 may take to start (it sleeps ~1 s in its context manager) before we give up.
START_TIMEOUT = 30.0
#: Per-read timeout given to BAC0 (its own default is 10 s; the devices are on loopback).
READ_TIMEOUT = 3


def _camel(object_type: str) -> str:
    head, *rest = object_type.split("-")
    return head + "".join(part.capitalize() for part in rest)


def interleaved(devices: list[SimDevice]) -> list[tuple[str, str, int]]:
    """Every (address, type, instance), one device after the other in turn, so a time-bounded
    run still touches every device."""
    order = []
    longest = max((len(device.refs) for device in devices), default=0)
    for index in range(longest):
        for device in devices:
            if index < len(device.refs):
                object_type, instance = device.refs[index]
                order.append((device.address, object_type, instance))
    return order


async def _measure(bind: str, devices: list[SimDevice], budget: float) -> tuple[int, int, float]:
    import BAC0

    BAC0.log_level("silence")
    points = interleaved(devices)
    read = failed = 0
    # ALWAYS an explicit address: without one BAC0 guesses the interface from a public host name.
    async with BAC0.start(ip=bind, ping=False) as bacnet:
        started = time.perf_counter()
        for address, object_type, instance in points:
            value = await bacnet.read(f"{address} {_camel(object_type)} {instance} presentValue",
                                      timeout=READ_TIMEOUT)
            if value is None:  # BAC0 logs and returns None for an error answer
                failed += 1
            else:
                read += 1
            if time.perf_counter() - started > budget:
                break
        elapsed = time.perf_counter() - started
    return read, failed, elapsed


def _child(conn: Connection, bind: str, devices: list[SimDevice], budget: float) -> None:
    import asyncio

    # BAC0 and its logging handlers write to stdout; the benchmark's stdout is its report.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        conn.send(("ok", asyncio.run(_measure(bind, devices, budget))))
    except BaseException as error:  # the parent reports it; the child must not hang
        conn.send(("error", f"{type(error).__name__}: {error}"))


def measure_naive(bind: str, devices: list[SimDevice], *, budget: float) -> tuple[int, int, float]:
    """(points read, points failed, seconds) of sequential BAC0 reads, stopped after ``budget`` s."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_child, args=(child, bind, devices, budget), name="bench-naive", daemon=True)
    process.start()
    child.close()
    try:
        # Bounded: start-up, the budget, plus one read timeout per point of slack for the last one.
        if not parent.poll(START_TIMEOUT + budget + READ_TIMEOUT + 10):
            raise RuntimeError("the BAC0 baseline did not finish in time")
        status, payload = parent.recv()
    finally:
        parent.close()
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
    if status != "ok":
        raise RuntimeError(f"the BAC0 baseline failed: {payload}")
    return payload
