"""The worker: one process, one BACnet socket, N Dramatiq threads.

Used by ``bacnet-pipeline worker`` (Redis broker), ``all-in-one`` (in-process broker) and the
gateway. Unlike the ``dramatiq`` CLI it never forks: a second process would need a second
BACnet socket on the same port, which steals replies from the first.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

import dramatiq
from flask import Flask

from app.error_text import message_line
from app.extensions import db
from app.models.heartbeat import beat, forget
from app.settings import BindAddress, Settings
from bacnet.engine import Engine
from bacnet.runtime import BACnetRuntime
from workers.context import WorkerContext
from workers.registry import register_actors

log = logging.getLogger(__name__)

#: Longest pause (ms) of an idle consumer between two polls of its queue (Dramatiq's worker_timeout;
#: it backs off from 5 ms up to this). Dramatiq's default of 1000 ms makes a "Collect now" click
#: wait up to a second (p50 ~580 ms after a quiet spell); 50 ms gives p50 ~25 ms (bench/trigger.py)
#: for ~20 cheap polls/s per idle queue, nothing to a Redis server. Setting: WORKER_IDLE_POLL_MS.
WORKER_TIMEOUT_MS = 50
#: How long stop() lets running jobs finish before giving up on them (ms).
STOP_TIMEOUT_MS = 30_000
#: Seconds between two heartbeats (the dashboard shows a worker alive for 30 s after its last).
HEARTBEAT_INTERVAL = 10.0


class WorkerService:
    """Owns the BACnet runtime and the Dramatiq worker of this process.

    Everything not given comes from the app's settings (WORKER_THREADS, BACNET_REQUEST_TIMEOUT,
    BACNET_MAX_IN_FLIGHT, BACNET_BBMD_ADDRESS, ...); tests pass short timeouts explicitly.
    """

    def __init__(self, app: Flask, broker: dramatiq.Broker, bind: BindAddress, *, threads: int | None = None,
                 request_timeout: float | None = None, queues: set[str] | None = None,
                 in_flight: int | None = None, max_devices: int | None = None, kind: str = "worker") -> None:
        settings: Settings = app.config["SETTINGS"]
        self.app = app
        self.broker = broker
        self.kind = kind
        self.threads = threads or settings.WORKER_THREADS
        self.queues = queues
        self.idle_poll_ms = settings.WORKER_IDLE_POLL_MS
        self.runtime = BACnetRuntime(bind.host, bind.prefix, bind.port, device_instance=settings.BACNET_DEVICE_INSTANCE,
                                     request_timeout=request_timeout or settings.BACNET_REQUEST_TIMEOUT,
                                     bbmd_address=settings.BACNET_BBMD_ADDRESS or None,
                                     bbmd_ttl=settings.BACNET_BBMD_TTL)
        self.engine = Engine(self.runtime, in_flight=in_flight or settings.BACNET_MAX_IN_FLIGHT,
                             max_devices=max_devices or settings.BACNET_MAX_CONCURRENT_DEVICES,
                             max_objects=settings.BACNET_MAX_OBJECTS)
        self.worker: dramatiq.Worker | None = None
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

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
        self._beat()
        self._heartbeat = threading.Thread(target=self._beat_forever, name="worker-heartbeat", daemon=True)
        self._heartbeat.start()
        log.info("worker started: %d threads, queues %s, BACnet on %s", self.threads,
                 sorted(self.queues or self.broker.get_declared_queues()), self.runtime)

    def _beat(self) -> None:
        try:
            with self.app.app_context():
                beat(self.instance, self.kind, "worker",
                     {"bacnet": f"{self.runtime.host}/{self.runtime.prefix}:{self.runtime.port}",
                      "queues": sorted(q for q in self.broker.get_declared_queues() if not q.endswith(".DQ")),
                      "threads": self.threads, "foreign_device": self._registration()},
                     host=socket.gethostname(), pid=os.getpid())
                db.session.commit()
        except Exception as error:  # the database may be briefly away; the next beat retries
            log.warning("worker heartbeat not recorded: %s", message_line(error))

    def _registration(self) -> str:
        status = self.runtime.registration_status
        return status.describe() if status is not None else ""

    def _beat_forever(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            self._beat()

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Finish running jobs (up to ``timeout_ms``), requeue prefetched ones, close the socket."""
        self._stop.set()
        if self.worker is not None:
            self.worker.stop(timeout=timeout_ms)
            self.worker = None
        self.runtime.stop()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
            self._heartbeat = None
            try:
                with self.app.app_context():
                    forget(self.instance)
                    db.session.commit()
            except Exception:
                log.warning("could not remove the heartbeat row of %s", self.instance)
        log.info("worker stopped")
