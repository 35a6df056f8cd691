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
from bacnet.engine import Engine
from bacnet.runtime import BACnetRuntime
from workers.context import WorkerContext
from workers.registry import register_actors

log = logging.getLogger(__name__)

#: How long (ms) an idle consumer waits before polling its queue again. Dramatiq's default of
#: 1000 ms makes a "Collect now" click wait up to a second; 100 ms costs ~10 Redis calls/s idle.
WORKER_TIMEOUT_MS = 100
#: How long stop() lets running jobs finish before giving up on them (ms).
STOP_TIMEOUT_MS = 30_000


class WorkerService:
    """Owns the BACnet runtime and the Dramatiq worker of this process."""

    def __init__(self, app: Flask, broker: dramatiq.Broker, bind: BindAddress, *, threads: int = 4,
                 device_instance: int = 3056999, request_timeout: float = 3.0,
                 queues: set[str] | None = None) -> None:
        self.app = app
        self.broker = broker
        self.runtime = BACnetRuntime(bind.host, bind.prefix, bind.port, device_instance=device_instance,
                                     request_timeout=request_timeout)
        self.engine = Engine(self.runtime)
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
                                          worker_timeout=WORKER_TIMEOUT_MS, queues=self.queues)
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
