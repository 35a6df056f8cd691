"""Broker factory: Redis when a URL is given, an in-process broker otherwise."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.catalog import CATALOG

#: Seconds to wait for a TCP connection to Redis.
REDIS_CONNECT_TIMEOUT = 2.0
#: Seconds to wait for one Redis command.
REDIS_SOCKET_TIMEOUT = 5.0
#: Retries of a Redis command that failed on its connection (a command takes at most
#: (1 + this) x REDIS_SOCKET_TIMEOUT, plus connect time).
REDIS_RETRIES = 1
#: How long (ms) a worker may go without touching Redis before another process's maintenance
#: counts it dead and puts its unacknowledged messages back on their queue (Dramatiq's default).
#: Every fetch, ack and enqueue of a live worker is a heartbeat (an idle worker polls every
#: WORKER_IDLE_POLL_MS, its delay-queue consumer keeps polling while all threads are busy), so
#: a few seconds is safe; it is the redelivery delay after a worker is killed.
#: Setting: BROKER_HEARTBEAT_TIMEOUT_MS.
DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000
#: Out of a million broker commands, how many also run that maintenance (Dramatiq's default:
#: about one fetch in a thousand, i.e. every ~25 s for an idle worker). Setting: BROKER_MAINTENANCE_CHANCE.
DEFAULT_MAINTENANCE_CHANCE = 1000


def redis_client(url: str, *, connect_timeout: float | None = None, socket_timeout: float | None = None,
                 retries: int | None = None) -> redis.Redis:
    """A Redis client that fails in seconds with a reason instead of hanging.

    Short socket timeouts, and ``retries`` immediate retries only: redis-py's default (several
    retries with backoff) turns a Redis that accepts but does not answer into a minute-long hang
    per command. One retry replaces a pooled connection a Redis restart closed.
    """
    # Defaults read at call time (not bound at definition), so they can be tuned in one place.
    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
        socket_timeout=REDIS_SOCKET_TIMEOUT if socket_timeout is None else socket_timeout,
        health_check_interval=30, retry=Retry(NoBackoff(), REDIS_RETRIES if retries is None else retries))


def make_broker(url: str, *, namespace: str = "bacnet-pipeline", queues: tuple[str, ...] = (),
                heartbeat_timeout_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
                maintenance_chance: int = DEFAULT_MAINTENANCE_CHANCE) -> dramatiq.Broker:
    """A broker with every catalog queue (plus ``queues``) declared.

    ``heartbeat_timeout_ms`` and ``maintenance_chance`` bound how soon the messages of a worker
    that died mid-job are delivered again (Redis only; see the constants above).

    The broker is *not* installed as Dramatiq's global broker: actors are registered on it
    explicitly (see workers.registry), so importing a module can never bind an actor to a
    default Redis by accident.
    """
    broker: dramatiq.Broker
    if url:
        # A Redis outage must fail an enqueue in seconds with a reason, not hang a web request
        # or a scheduler tick.
        client = redis_client(url)
        broker = RedisBroker(client=client, namespace=namespace, heartbeat_timeout=heartbeat_timeout_ms,
                             maintenance_chance=maintenance_chance)
    else:
        # The in-process broker of the embedded mode. fail_fast is for unit tests of Dramatiq
        # itself; we want failures recorded in job_run, not re-raised in join().
        broker = StubBroker()
    for name in {spec.queue for spec in CATALOG.values()} | set(queues):
        broker.declare_queue(name)
    return broker
