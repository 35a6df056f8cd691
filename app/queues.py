"""How many jobs wait, per transport: the dashboard's queue panel (and `doctor`)."""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.models import Site
from app.settings import Settings
from app.transport import LOCAL_BROKER_KEY, resolve_kind
from workers.catalog import DEFAULT_QUEUE
from workers.broker import redis_client

#: Seconds the dashboard waits for Redis or the gateway before showing "unreachable".
PROBE_TIMEOUT = 1.0


def _redis_depths(settings: Settings, queues: set[str]) -> dict:
    import redis

    try:
        client = redis_client(settings.BROKER_URL, connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT,
                              retries=0)
        depth = sum(client.llen(f"{settings.BROKER_NAMESPACE}:{queue}") for queue in sorted(queues))
        return {"transport": "redis", "where": ", ".join(sorted(queues)), "depth": depth, "error": ""}
    except redis.RedisError as error:
        return {"transport": "redis", "where": ", ".join(sorted(queues)), "depth": None,
                "error": f"unreachable ({type(error).__name__})"}


def _gateway_depth(settings: Settings, url: str) -> dict:
    import requests

    from workers.signing import signed_headers

    entry = {"transport": "http", "where": url, "depth": None, "error": ""}
    if not settings.GATEWAY_SECRET:
        entry["error"] = "GATEWAY_SECRET is not set"
        return entry
    try:
        response = requests.get(f"{url}/status", headers=signed_headers(settings.GATEWAY_SECRET, b""),
                                timeout=PROBE_TIMEOUT)
    except requests.RequestException:
        entry["error"] = "gateway unreachable"
        return entry
    if response.status_code != 200:
        entry["error"] = f"gateway answered {response.status_code}"
        return entry
    entry["depth"] = response.json().get("queue_depth")
    return entry


def queue_depths(settings: Settings) -> list[dict]:
    """One entry per transport in use: ``{"transport", "where", "depth" (None if unknown), "error"}``."""
    sites = db.session.execute(db.select(Site)).scalars().all()
    kinds: dict[str, set[str]] = {}
    for site in sites or [None]:
        kind = resolve_kind(site, settings)
        target = (site.queue_name if site is not None else "") or DEFAULT_QUEUE
        if kind == "http":
            target = (site.gateway_url if site is not None else "") or settings.GATEWAY_URL
        kinds.setdefault(kind, set()).add(target)
    out = []
    if "local" in kinds:
        broker = current_app.extensions.get(LOCAL_BROKER_KEY)
        if broker is None:
            out.append({"transport": "local", "where": "this process", "depth": None,
                        "error": "no in-process worker in this process"})
        else:
            depth = sum(broker.queues[name].qsize() for name in broker.get_declared_queues())
            out.append({"transport": "local", "where": "this process", "depth": depth, "error": ""})
    if "redis" in kinds:
        out.append(_redis_depths(settings, kinds["redis"]))
    for url in sorted(kinds.get("http", ())):
        out.append(_gateway_depth(settings, url))
    return out
