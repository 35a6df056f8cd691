"""The Redis transport: enqueue on the Dramatiq RedisBroker by actor name."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

import dramatiq

from app.transport.base import EnqueueError
from workers.broker import DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_MAINTENANCE_CHANCE, make_broker


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class RedisTransport:
    kind = "redis"
    _brokers: dict[tuple[str, str, int, int], dramatiq.Broker] = {}
    _lock = threading.Lock()

    def __init__(self, url: str, namespace: str, *, heartbeat_timeout_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
                 maintenance_chance: int = DEFAULT_MAINTENANCE_CHANCE) -> None:
        if not url:
            raise EnqueueError("the redis transport needs BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
        self.url = url
        self.namespace = namespace
        # Enqueues run Dramatiq's queue maintenance too: they must count a worker dead after the
        # same silence as the workers do (BROKER_HEARTBEAT_TIMEOUT_MS).
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self.maintenance_chance = maintenance_chance

    def _broker(self) -> dramatiq.Broker:
        # One client (and connection pool) per URL for the life of the process.
        key = (self.url, self.namespace, self.heartbeat_timeout_ms, self.maintenance_chance)
        with self._lock:
            broker = self._brokers.get(key)
            if broker is None:
                broker = self._brokers[key] = make_broker(self.url, namespace=self.namespace,
                                                          heartbeat_timeout_ms=self.heartbeat_timeout_ms,
                                                          maintenance_chance=self.maintenance_chance)
            return broker

    def send(self, message: dramatiq.Message, *, job_id: int | None = None) -> None:
        try:
            self._broker().enqueue(message)
        except Exception as error:  # redis-py raises several unrelated classes for an outage
            raise EnqueueError(f"broker at {redact(self.url)} unreachable: {error}") from None
