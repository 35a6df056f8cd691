"""The worker: one process, one BACnet socket, N Dramatiq threads.

Used by ``bacnet-pipeline worker`` (Redis broker), ``all-in-one`` (in-process broker) and the
gateway. Unlike the ``dramatiq`` CLI it never forks: a second process would need a second
BACnet socket on the same port, which steals replies from the first.
"""

from __future__ import annotations

import logging

import dramatiq
from flask import Flask

from app.settings import BindAddress
from bacnet.engine import DEFAULT_IN_FLIGHT, DEFAULT_MAX_DEVICES, Engine
from bacnet.runtime import BACnetRuntime
from workers.context import WorkerContext
from workers.registry import register_actors

log = logging.getLogger(__name__)

#: Longest pause (ms) of an idle consumer between two polls of its queue (Dramatiq's worker_timeout;
#: it backs off from 5 ms up to this). Dramatiq's default of 1000 ms makes a "Collect now" click
#: wait up to a second (p50 ~580 ms after a quiet spell); 50 ms gives p50 ~25 ms (bench/trigger.py)
#: for ~20 cheap polls/s per idle queue, nothing to a Redis server.
WORKER_TIMEOUT_MS = 50
#: How long stop() lets running jobs finish before giving up on them (ms).
STOP_TIMEOUT_MS = 30_000


class WorkerService:
    """Owns the BACnet runtime and the Dramatiq worker of this process."""

    def __init__(self, app: Flask, broker: dramatiq.Broker, bind: BindAddress, *, threads: int = 4,
                 device_instance: int = 3056999, request_timeout: float = 3.0,
                 queues: set[str] | None = None, idle_poll_ms: int = WORKER_TIMEOUT_MS,
                 in_flight: int | None = None, max_devices: int | None = None) -> None:
        self.app = app
        self.idle_poll_ms = idle_poll_ms
        self.broker = broker
        self.runtime = BACnetRuntime(bind.host, bind.prefix, bind.port, device_instance=device_instance,
                                     request_timeout=request_timeout)
        # Read concurrency: given, else the app's settings (BACNET_MAX_IN_FLIGHT,
        # BACNET_MAX_CONCURRENT_DEVICES), else the engine's defaults.
        settings = app.config.get("SETTINGS")
        if in_flight is None and settings is not None:
            in_flight = settings.BACNET_MAX_IN_FLIGHT
        if max_devices is None and settings is not None:
            max_devices = settings.BACNET_MAX_CONCURRENT_DEVICES
        self.engine = Engine(self.runtime, in_flight=in_flight or DEFAULT_IN_FLIGHT,
                             max_devices=max_devices or DEFAULT_MAX_DEVICES)
        self.threads = threads
        self.queues = queues
        self.worker: dramatiq.Worker | None = None

    def start(self) -> None:
        """Bind the BACnet socket (BindError on clash), register actors, start consuming."""
        self.runtime.start()
        try:
            register_actors(self.broker, WorkerContext(app=self.app, engine=self.engine))
            for queue in self.queues or ():
                self.broker.declare_queue(queue)
            self.worker = dramatiq.Worker(self.broker, worker_threads=self.threads,
                                          worker_timeout=self.idle_poll_ms, queues=self.queues)
            self.worker.start()
        except BaseException:
            self.runtime.stop()
            raise
        log.info("worker started: %d threads, queues %s, BACnet on %s", self.threads,
                 sorted(self.queues or self.broker.get_declared_queues()), self.runtime)

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Finish running jobs (up to ``timeout_ms``), requeue prefetched ones, close the socket."""
        if self.worker is not None:
            self.worker.stop(timeout=timeout_ms)
            self.worker = None
        self.runtime.stop()
        log.info("worker stopped")
