"""Assembling the gateway: database app, queue, worker with the BACnet engine, HTTP app."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

import dramatiq
from dramatiq.brokers.stub import StubBroker
from flask import Flask

from app.settings import Settings
from workers.broker import make_broker
from workers.gateway.http import GatewayState, create_gateway_app
from workers.gateway.ledger import GatewayIdentity, mark_lost
from workers.service import WorkerService

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("bacnet-pipeline")
    except PackageNotFoundError:
        return "unknown"


def queue_depth_of(broker: dramatiq.Broker, namespace: str) -> int:
    """Messages waiting in the gateway's queues (not counting the ones being worked on)."""
    queues = broker.get_declared_queues()
    if isinstance(broker, StubBroker):
        return sum(broker.queues[name].qsize() for name in queues)
    return sum(broker.client.llen(f"{namespace}:{name}") for name in queues)


class GatewayService:
    """One process: the HTTP endpoint, the queue, and a worker that owns the BACnet socket."""

    def __init__(self, core: Flask, settings: Settings, *, port: int) -> None:
        self.core = core
        self.settings = settings
        self.in_process_queue = not settings.GATEWAY_BROKER_URL
        namespace = f"{settings.BROKER_NAMESPACE}-gateway"
        self.broker = make_broker(settings.GATEWAY_BROKER_URL, namespace=namespace,
                                  heartbeat_timeout_ms=settings.BROKER_HEARTBEAT_TIMEOUT_MS,
                                  maintenance_chance=settings.BROKER_MAINTENANCE_CHANCE)
        bind = settings.require_bind_address()
        self.identity = GatewayIdentity.for_port(port)
        self.worker = WorkerService(core, self.broker, bind, kind="gateway")
        self.state = GatewayState(core=core, secret=settings.require_gateway_secret(), identity=self.identity,
                                  broker=self.broker, bind=str(bind), version=_version(),
                                  queue_depth=lambda: queue_depth_of(self.broker, namespace))
        self.http: Flask = create_gateway_app(self.state)

    def start(self) -> None:
        if self.in_process_queue:
            # Whatever an earlier run of this gateway accepted and did not finish died with it.
            with self.core.app_context():
                lost = mark_lost(self.identity, "the gateway restarted before this job finished",
                                 previous_runs=True)
            if lost:
                log.warning("marked %d job(s) of the previous gateway run as lost", lost)
        self.worker.start()
        log.info("gateway %s ready (queue: %s)", self.identity.tag,
                 "in-process" if self.in_process_queue else "redis")

    def stop(self) -> None:
        """Stop accepting, let running jobs finish, and account for the ones that never started."""
        self.state.accepting = False
        self.worker.stop()
        if self.in_process_queue:
            with self.core.app_context():
                lost = mark_lost(self.identity, "the gateway stopped before this job ran", previous_runs=False)
            if lost:
                log.warning("%d queued job(s) could not run before the stop: marked lost", lost)
