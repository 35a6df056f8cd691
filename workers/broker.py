"""Broker factory: Redis when a URL is given, an in-process broker otherwise."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from workers.catalog import CATALOG

#: Seconds to wait for a TCP connection to Redis.
REDIS_CONNECT_TIMEOUT = 2.0
#: Seconds to wait for one Redis command.
REDIS_SOCKET_TIMEOUT = 5.0


def make_broker(url: str, *, namespace: str = "bacnet-pipeline", queues: tuple[str, ...] = ()) -> dramatiq.Broker:
    """A broker with every catalog queue (plus ``queues``) declared.

    The broker is *not* installed as Dramatiq's global broker: actors are registered on it
    explicitly (see workers.registry), so importing a module can never bind an actor to a
    default Redis by accident.
    """
    broker: dramatiq.Broker
    if url:
        # Short socket timeouts: a Redis outage must fail an enqueue in seconds with a reason,
        # not hang a web request or a scheduler tick.
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                                      socket_timeout=REDIS_SOCKET_TIMEOUT, health_check_interval=30)
        broker = RedisBroker(client=client, namespace=namespace)
    else:
        # The in-process broker of the embedded mode. fail_fast is for unit tests of Dramatiq
        # itself; we want failures recorded in job_run, not re-raised in join().
        broker = StubBroker()
    for name in {spec.queue for spec in CATALOG.values()} | set(queues):
        broker.declare_queue(name)
    return broker
